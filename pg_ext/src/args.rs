//! Turning SQL arguments into the codec's types, refusing NULLs by name.

use pg_socketio_protocol::{split_args, Error, RawValue};
use pgrx::prelude::*;

use crate::jsonb_text::JsonbText;
use crate::raise::{raise, OrRaise};

/// The value, or an ERROR naming the argument that was NULL.
pub fn required<T>(value: Option<T>, what: &'static str, function: &'static str) -> T {
    value.unwrap_or_else(|| raise(Error::Null { what }, function))
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
pub fn json_args<'a>(args: &'a Option<JsonbText>, function: &'static str) -> Vec<&'a RawValue> {
    match args {
        Some(args) => split_args(args.raw()).or_raise(function),
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
