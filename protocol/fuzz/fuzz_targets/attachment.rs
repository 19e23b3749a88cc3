//! Anyone who may insert into the attachment table can make a listener read
//! any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pg_socketio_protocol::decode_attachment(data);
});
