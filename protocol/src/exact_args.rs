//! The arguments' JSON text as one array, with every digit of numbers
//! float64 cannot hold ([`Message::exact_args`](crate::Message::exact_args)):
//! written by the encoder into an attachment (`exactArgs`), cut by the
//! decoder from an inline notification.

use std::io::Write;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::js_number::{javascript_number, keeps_digits};
use crate::json_text::{tokens, Token};
use crate::message::MessageType;

/// The length of `[` the texts joined by `,` `]`; `None` for no texts.
pub(crate) fn array_len(texts: &[&str]) -> Option<usize> {
    (!texts.is_empty()).then(|| texts.iter().map(|t| t.len() + 1).sum::<usize>() + 1)
}

/// Writes `[` the texts joined by `,` `]`, without joining them first
/// (arguments may be hundreds of megabytes).
pub(crate) fn write_array<W: Write>(out: &mut W, texts: &[&str]) -> std::io::Result<()> {
    out.write_all(b"[")?;
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(text.as_bytes())?;
    }
    out.write_all(b"]")
}

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

/// The arguments' text of `payload`, a message of type `kind`, when a
/// number in them loses digits; `None` otherwise, or for a type without
/// arguments.
pub(crate) fn inline(payload: &str, kind: MessageType) -> Option<String> {
    let packet = serde_json::from_str::<Envelope>(payload).ok()?.data.packet;
    let args = match kind {
        MessageType::Broadcast => {
            let event = serde_json::from_str::<Packet>(packet.get()).ok()?.data;
            after_event(event.get())?
        }
        MessageType::ServerSideEmit => after_event(packet.get())?,
        MessageType::ServerSideEmitResponse => vec![packet],
        _ => return None,
    };
    let args: Vec<&str> = args.iter().map(|arg| arg.get()).collect();
    if args.iter().all(|arg| every_digit_kept(arg)) {
        return None;
    }
    let mut text = Vec::with_capacity(array_len(&args)?);
    write_array(&mut text, &args).expect("writing into a Vec does not fail");
    Some(String::from_utf8(text).expect("the arguments are JSON text"))
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
