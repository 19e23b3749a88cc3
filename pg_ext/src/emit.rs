//! Emits to clients: `io.of(nsp).to(rooms).except(except_rooms).emit(..)`.

use pg_socketio_protocol::{Flags, Operation, SentEvent};
use pgrx::prelude::*;

use crate::args::{binary_args, json_args, required, target_room, target_rooms};
use crate::jsonb_text::JsonbText;
use crate::send::to_sockets;
use crate::text_arg::Text;

const SIO_EMIT: &str = "sio_emit";
const SIO_EMIT_ARGS: &str = "sio_emit_args";

/// The emit operation, its NULLs refused by name.
fn emit<'a, A>(
    event: Option<Text<'a>>,
    args: &'a [A],
    binary: &'a [&'a [u8]],
    volatile: Option<bool>,
    compress: Option<bool>,
    function: &'static str,
) -> Operation<'a, A> {
    Operation::Emit {
        event: SentEvent {
            name: required(event, "event", function).as_str(),
            args,
            binary,
        },
        flags: Flags {
            volatile: required(volatile, "volatile", function),
            compress: required(compress, "compress", function),
        },
    }
}

/// Emits `event` with `payload` as its one argument (none when NULL) to the
/// clients in any of `rooms` (all clients when empty; NULL is refused).
#[pg_extern(name = "sio_emit")]
fn sio_emit_rooms(
    rooms: Option<Array<'_, &str>>,
    event: Option<Text<'_>>,
    payload: default!(Option<JsonbText>, "NULL"),
    nsp: default!(Option<Text<'_>>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let op = emit(event, payload.as_slice(), &[], volatile, compress, SIO_EMIT);
    to_sockets(
        &target_rooms(&rooms, SIO_EMIT),
        nsp.map(Text::as_str),
        &except_rooms,
        op,
        SIO_EMIT,
    );
}

/// The same for one room: `sio_emit('room1', 'ping', '{"n":1}')`.
#[pg_extern(name = "sio_emit")]
fn sio_emit_room(
    room: Option<Text<'_>>,
    event: Option<Text<'_>>,
    payload: default!(Option<JsonbText>, "NULL"),
    nsp: default!(Option<Text<'_>>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let op = emit(event, payload.as_slice(), &[], volatile, compress, SIO_EMIT);
    to_sockets(
        &target_room(room.map(Text::as_str), SIO_EMIT),
        nsp.map(Text::as_str),
        &except_rooms,
        op,
        SIO_EMIT,
    );
}

/// Emits `event` with any number of arguments: `args` is a JSON array, one
/// element per argument; `binary_args` are bytea arguments, placed in `args`
/// by `{"_placeholder":true,"num":N}` (N from 0).
#[pg_extern(name = "sio_emit_args")]
fn sio_emit_args_rooms(
    rooms: Option<Array<'_, &str>>,
    event: Option<Text<'_>>,
    args: default!(Option<JsonbText>, "'[]'"),
    binary_args: default!(Option<Array<'_, &[u8]>>, "NULL"),
    nsp: default!(Option<Text<'_>>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let json = json_args(&args, SIO_EMIT_ARGS);
    let binary = self::binary_args(&binary_args, SIO_EMIT_ARGS);
    let op = emit(event, &json, &binary, volatile, compress, SIO_EMIT_ARGS);
    to_sockets(
        &target_rooms(&rooms, SIO_EMIT_ARGS),
        nsp.map(Text::as_str),
        &except_rooms,
        op,
        SIO_EMIT_ARGS,
    );
}

/// The same for one room.
#[pg_extern(name = "sio_emit_args")]
fn sio_emit_args_room(
    room: Option<Text<'_>>,
    event: Option<Text<'_>>,
    args: default!(Option<JsonbText>, "'[]'"),
    binary_args: default!(Option<Array<'_, &[u8]>>, "NULL"),
    nsp: default!(Option<Text<'_>>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
    volatile: default!(Option<bool>, false),
    compress: default!(Option<bool>, true),
) {
    let json = json_args(&args, SIO_EMIT_ARGS);
    let binary = self::binary_args(&binary_args, SIO_EMIT_ARGS);
    let op = emit(event, &json, &binary, volatile, compress, SIO_EMIT_ARGS);
    to_sockets(
        &target_room(room.map(Text::as_str), SIO_EMIT_ARGS),
        nsp.map(Text::as_str),
        &except_rooms,
        op,
        SIO_EMIT_ARGS,
    );
}
