//! Turning SQL arguments into the codec's types, refusing NULLs by name.

use pg_socketio_protocol::{split_args, Error, RawValue};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::jsonb_text::JsonbText;
use crate::raise::{fail, raise, OrRaise};

/// The value, or an ERROR naming the argument that was NULL.
pub fn required<T>(value: Option<T>, what: &'static str, function: &'static str) -> T {
    value.unwrap_or_else(|| raise(Error::Null { what }, function))
}

/// The rooms an operation targets. NULL is refused: it is what a subquery
/// that found nothing gives (`array_agg` of no rows), and taking it for
/// "every socket" would send private data to everyone. The empty array is
/// the explicit way to reach every socket, as `io.to([])` is in Socket.IO.
pub fn target_rooms<'a>(
    rooms: &'a Option<Array<'_, &str>>,
    function: &'static str,
) -> Vec<&'a str> {
    if rooms.is_none() {
        null_rooms(function);
    }
    room_list(rooms, "rooms", function)
}

/// The one room of the single-room forms; NULL is refused, as above.
pub fn target_room<'a>(room: Option<&'a str>, function: &'static str) -> [&'a str; 1] {
    [room.unwrap_or_else(|| null_rooms(function))]
}

fn null_rooms(function: &'static str) -> ! {
    fail(
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "rooms must not be NULL: NULL is not a room, and is not taken for every socket",
            function,
        )
        .set_detail(
            "A subquery that finds no room gives NULL; sending to everyone then would \
             reach sockets the statement did not mean.",
        )
        .set_hint(format!(
            "To reach every socket of the namespace, pass an empty array: \
             {function}(ARRAY[]::text[], ...)."
        )),
    )
}

/// A room array as a list; NULL is the empty list, a NULL room an error.
pub fn room_list<'a>(
    rooms: &'a Option<Array<'_, &str>>,
    what: &'static str,
    function: &'static str,
) -> Vec<&'a str> {
    rooms
        .as_ref()
        .map(|array| {
            array
                .iter()
                .map(|room| required(room, what, function))
                .collect()
        })
        .unwrap_or_default()
}

/// The elements of a JSON array argument; NULL is no argument.
pub fn json_args<'a>(args: &Option<JsonbText<'a>>, function: &'static str) -> Vec<&'a RawValue> {
    match args {
        Some(args) => split_args(args.text()).or_raise(function),
        None => Vec::new(),
    }
}

/// The binary arguments; NULL is none, a NULL element an error.
pub fn binary_args<'a>(
    binary: &'a Option<Array<'_, &[u8]>>,
    function: &'static str,
) -> Vec<&'a [u8]> {
    binary
        .as_ref()
        .map(|array| {
            array
                .iter()
                .map(|b| required(b, "binary_args", function))
                .collect()
        })
        .unwrap_or_default()
}
