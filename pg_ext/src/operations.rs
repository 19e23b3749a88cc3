//! The operations besides emitting to clients: socketsJoin, socketsLeave,
//! disconnectSockets and serverSideEmit.

// An operation without arguments is typed as if it had serde_json's.
use pg_socketio_protocol::{Operation, RawValue, SentEvent};
use pgrx::prelude::*;

use crate::args::{binary_args, json_args, required, room_list, target_rooms};
use crate::jsonb_text::JsonbText;
use crate::send::to_sockets;

/// `io.of(nsp).in(rooms).except(except_rooms).socketsJoin(join_rooms)`
#[pg_extern]
fn sio_sockets_join(
    rooms: Option<Array<'_, &str>>,
    join_rooms: Option<Array<'_, &str>>,
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
) {
    const F: &str = "sio_sockets_join";
    let join_rooms = Some(required(join_rooms, "join_rooms", F));
    let join = room_list(&join_rooms, "join_rooms", F);
    to_sockets::<&RawValue>(
        &target_rooms(&rooms, F),
        nsp,
        &except_rooms,
        Operation::SocketsJoin { rooms: &join },
        F,
    );
}

/// `io.of(nsp).in(rooms).except(except_rooms).socketsLeave(leave_rooms)`
#[pg_extern]
fn sio_sockets_leave(
    rooms: Option<Array<'_, &str>>,
    leave_rooms: Option<Array<'_, &str>>,
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
) {
    const F: &str = "sio_sockets_leave";
    let leave_rooms = Some(required(leave_rooms, "leave_rooms", F));
    let leave = room_list(&leave_rooms, "leave_rooms", F);
    to_sockets::<&RawValue>(
        &target_rooms(&rooms, F),
        nsp,
        &except_rooms,
        Operation::SocketsLeave { rooms: &leave },
        F,
    );
}

/// `io.of(nsp).in(rooms).except(except_rooms).disconnectSockets(close)`:
/// `close` also closes the underlying connection (all of the client's
/// namespaces).
#[pg_extern]
fn sio_disconnect_sockets(
    rooms: Option<Array<'_, &str>>,
    close: default!(Option<bool>, false),
    nsp: default!(Option<&str>, "'/'"),
    except_rooms: default!(Option<Array<'_, &str>>, "NULL"),
) {
    const F: &str = "sio_disconnect_sockets";
    let close = required(close, "close", F);
    to_sockets::<&RawValue>(
        &target_rooms(&rooms, F),
        nsp,
        &except_rooms,
        Operation::DisconnectSockets { close },
        F,
    );
}

/// `io.of(nsp).serverSideEmit(event, ...args)`: reaches the `io.on(event)`
/// listeners of every server, not clients. Arguments as in `sio_emit_args`.
#[pg_extern]
fn sio_server_side_emit(
    event: Option<&str>,
    args: default!(Option<JsonbText>, "'[]'"),
    binary_args: default!(Option<Array<'_, &[u8]>>, "NULL"),
    nsp: default!(Option<&str>, "'/'"),
) {
    const F: &str = "sio_server_side_emit";
    let json = json_args(&args, F);
    let binary = self::binary_args(&binary_args, F);
    let event = SentEvent {
        name: required(event, "event", F),
        args: &json,
        binary: &binary,
    };
    to_sockets(&[], nsp, &None, Operation::ServerSideEmit { event }, F);
}
