//! [`Message::exact_args`](crate::Message::exact_args) of an inline
//! notification: its arguments' JSON text, cut from the payload, when a
//! number in them loses digits to float64.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::decode::Body;
use crate::js_number::{javascript_number, keeps_digits};
use crate::json_text::{tokens, Token};

/// Where the arguments are in each message type that carries them.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Data<'a>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    packet: &'a RawValue,
}

/// A BROADCAST's `packet`, a Socket.IO packet.
#[derive(Deserialize)]
struct Packet<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The arguments' text of `payload`, already decoded as `body`, when a
/// number in them loses digits; `None` otherwise, or for a type without
/// arguments.
pub(crate) fn inline(payload: &str, body: &Body) -> Option<String> {
    let packet = serde_json::from_str::<Envelope>(payload).ok()?.data.packet;
    let args = match body {
        Body::Broadcast { .. } => {
            let event = serde_json::from_str::<Packet>(packet.get()).ok()?.data;
            after_event(event.get())?
        }
        Body::ServerSideEmit { .. } => after_event(packet.get())?,
        Body::ServerSideEmitResponse { .. } => vec![packet],
        _ => return None,
    };
    if args.iter().all(|arg| every_digit_kept(arg.get())) {
        return None;
    }
    let mut text = String::from("[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(arg.get());
    }
    text.push(']');
    Some(text)
}

/// The elements of `[event, ...args]` after the event.
fn after_event(array: &str) -> Option<Vec<&RawValue>> {
    let mut elements = serde_json::from_str::<Vec<&RawValue>>(array).ok()?;
    (!elements.is_empty()).then(|| elements.split_off(1))
}

fn every_digit_kept(json: &str) -> bool {
    tokens(json).all(|token| match token {
        Ok((_, Token::Number(text))) => {
            javascript_number(text).is_none_or(|read| keeps_digits(text, &read))
        }
        _ => true,
    })
}
