//! Emits to clients: `io.of(nsp).to(rooms).except(except_rooms).emit(..)`.

use pg_socketio_protocol::{Event, Flags, Operation, RawValue, Target};
use pgrx::prelude::*;

use crate::args::{binary_args, json_args, required, room_list, target_room, target_rooms};
use crate::jsonb_text::JsonbText;
use crate::send::publish;

const SIO_EMIT: &str = "sio_emit";
const SIO_EMIT_ARGS: &str = "sio_emit_args";

/// Emits `event` with `payload` as its one argument (none when NULL) to the
/// clients in any of `rooms` (all clients when empty; NULL is refused).
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
    let rooms = target_rooms(&rooms, SIO_EMIT);
    let args: Vec<&RawValue> = payload.iter().map(JsonbText::raw).collect();
    let call = Emit {
        event,
        args: &args,
        binary: &[],
        nsp,
        except_rooms: &except_rooms,
        volatile,
        compress,
    };
    call.publish(&rooms, SIO_EMIT);
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
    let rooms = target_room(room, SIO_EMIT);
    let args: Vec<&RawValue> = payload.iter().map(JsonbText::raw).collect();
    let call = Emit {
        event,
        args: &args,
        binary: &[],
        nsp,
        except_rooms: &except_rooms,
        volatile,
        compress,
    };
    call.publish(&rooms, SIO_EMIT);
}

/// Emits `event` with any number of arguments: `args` is a JSON array, one
/// element per argument; `binary_args` are bytea arguments, placed in `args`
/// by `{"_placeholder":true,"num":N}` (N from 0).
#[pg_extern(name = "sio_emit_args")]
fn sio_emit_args_rooms(
    rooms: Option<Array<'_, &str>>,
    event: Option<&str>,
    args: default!(Option<JsonbText>, "'[]'"),
    binary_args: default!(Option<Array<'_, &[u8]>>, "NULL"),
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let rooms = target_rooms(&rooms, SIO_EMIT_ARGS);
    let json = json_args(&args, SIO_EMIT_ARGS);
    let binary = self::binary_args(&binary_args, SIO_EMIT_ARGS);
    let call = Emit {
        event,
        args: &json,
        binary: &binary,
        nsp,
        except_rooms: &except_rooms,
        volatile,
        compress,
    };
    call.publish(&rooms, SIO_EMIT_ARGS);
}

/// The same for one room.
#[pg_extern(name = "sio_emit_args")]
fn sio_emit_args_room(
    room: Option<&str>,
    event: Option<&str>,
    args: default!(Option<JsonbText>, "'[]'"),
    binary_args: default!(Option<Array<'_, &[u8]>>, "NULL"),
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let rooms = target_room(room, SIO_EMIT_ARGS);
    let json = json_args(&args, SIO_EMIT_ARGS);
    let binary = self::binary_args(&binary_args, SIO_EMIT_ARGS);
    let call = Emit {
        event,
        args: &json,
        binary: &binary,
        nsp,
        except_rooms: &except_rooms,
        volatile,
        compress,
    };
    call.publish(&rooms, SIO_EMIT_ARGS);
}

/// The arguments every emit function shares.
struct Emit<'a, 'x, 'y> {
    event: Option<&'a str>,
    args: &'a [&'a RawValue],
    binary: &'a [&'a [u8]],
    nsp: Option<&'a str>,
    except_rooms: &'a Option<Array<'x, &'y str>>,
    volatile: Option<bool>,
    compress: Option<bool>,
}

impl Emit<'_, '_, '_> {
    fn publish(self, rooms: &[&str], function: &'static str) {
        let except = room_list(self.except_rooms, "except_rooms", function);
        let target = Target {
            nsp: required(self.nsp, "nsp", function),
            rooms,
            except: &except,
        };
        let op = Operation::Emit {
            event: Event {
                name: required(self.event, "event", function),
                args: self.args,
                binary: self.binary,
            },
            flags: Flags {
                volatile: required(self.volatile, "volatile", function),
                compress: required(self.compress, "compress", function),
            },
        };
        publish(target, op, function);
    }
}
