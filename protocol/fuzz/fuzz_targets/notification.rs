//! Anyone who may `pg_notify` on a channel can send a listener anything.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // PostgreSQL hands notifications over as text.
    if let Ok(payload) = std::str::from_utf8(data) {
        let _ = pg_socketio_protocol::decode_notification(payload);
    }
});
