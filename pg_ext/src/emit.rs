//! `sio_emit`: `io.of(nsp).to(rooms).except(except_rooms).emit(event, payload)`.

use pg_socketio_protocol::{encode, Error, Event, Flags, Operation, RawValue, Target};
use pgrx::prelude::*;

use crate::jsonb_text::JsonbText;
use crate::raise::{raise, OrRaise};
use crate::{send, settings};

const SIO_EMIT: &str = "sio_emit";

/// Emits `event` with `payload` as its one argument (none when NULL) to the
/// clients in any of `rooms` (all clients when NULL or empty).
#[pg_extern(name = "sio_emit")]
fn sio_emit_rooms(
    rooms: Option<Array<'_, &str>>,
    event: Option<&str>,
    payload: default!(Option<JsonbText>, "NULL"),
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let rooms = room_list(&rooms, "rooms");
    emit(
        &rooms,
        event,
        payload,
        nsp,
        except_rooms,
        volatile,
        compress,
    );
}

/// The same for one room: `sio_emit('room1', 'ping', '{"n":1}')`.
#[pg_extern(name = "sio_emit")]
fn sio_emit_room(
    room: Option<&str>,
    event: Option<&str>,
    payload: default!(Option<JsonbText>, "NULL"),
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let rooms: Vec<&str> = room.into_iter().collect();
    emit(
        &rooms,
        event,
        payload,
        nsp,
        except_rooms,
        volatile,
        compress,
    );
}

fn emit(
    rooms: &[&str],
    event: Option<&str>,
    payload: Option<JsonbText>,
    nsp: Option<&str>,
    except_rooms: Option<Array<'_, &str>>,
    volatile: Option<bool>,
    compress: Option<bool>,
) {
    let except = room_list(&except_rooms, "except_rooms");
    let target = Target {
        nsp: required(nsp, "nsp"),
        rooms,
        except: &except,
    };
    let args: Vec<&RawValue> = payload.iter().map(JsonbText::raw).collect();
    let op = Operation::Emit {
        event: Event {
            name: required(event, "event"),
            args: &args,
        },
        flags: Flags {
            volatile: required(volatile, "volatile"),
            compress: required(compress, "compress"),
        },
    };
    let mut prefix = String::new();
    let settings = settings::current(&mut prefix);
    let encoded = encode(&settings, target, op, send::next_seq()).or_raise(SIO_EMIT);
    send::send(encoded, SIO_EMIT);
}

fn required<T>(value: Option<T>, what: &'static str) -> T {
    value.unwrap_or_else(|| raise(Error::Null { what }, SIO_EMIT))
}

/// A room array as a list; NULL is the empty list, a NULL room an error.
fn room_list<'a>(rooms: &'a Option<Array<'_, &str>>, what: &'static str) -> Vec<&'a str> {
    rooms
        .as_ref()
        .map(|array| array.iter().map(|room| required(room, what)).collect())
        .unwrap_or_default()
}
