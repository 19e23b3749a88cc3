//! Messages in the WAL: what pg_socketio writes as a transactional logical
//! decoding message when `pg_socketio.delivery` includes `wal`, and what the
//! durable listener reads back from a replication slot.
//!
//! Content: the channel the message would be notified on, a NUL byte, then
//! the message itself — its JSON envelope (first byte `{`) or, for messages
//! that NOTIFY would carry in the attachment table, its MessagePack (a map:
//! first byte `0x80`–`0x8f`, `0xde` or `0xdf`). No attachment row is involved.

use crate::decode::{decode_attachment, decode_notification, DecodeError, Message, Notice};
use crate::memory::reserve;
use crate::Error;

/// The logical decoding message prefix of every pg_socketio message.
pub const WAL_PREFIX: &str = "pg_socketio";

/// The content of a logical decoding message: `channel`, NUL, then what
/// `write_message` writes (`message_len` bytes, allocated beforehand:
/// running out of memory for them is an error).
pub fn wal_content(
    channel: &str,
    message_len: usize,
    write_message: impl FnOnce(&mut Vec<u8>),
) -> Result<Vec<u8>, Error> {
    let mut content = Vec::new();
    reserve(
        &mut content,
        channel.len() + 1 + message_len,
        "a WAL message",
    )?;
    content.extend_from_slice(channel.as_bytes());
    content.push(0);
    write_message(&mut content);
    Ok(content)
}

/// Reads a message's content back: its channel and the message.
pub fn decode_wal_content(content: &[u8]) -> Result<(String, Message), DecodeError> {
    let nul = content
        .iter()
        .position(|&b| b == 0)
        .ok_or(DecodeError::Malformed("no NUL after the channel".into()))?;
    let channel = std::str::from_utf8(&content[..nul])
        .map_err(|_| DecodeError::Malformed("the channel is not UTF-8".into()))?
        .to_owned();
    let message = &content[nul + 1..];
    let message = match message.first() {
        Some(b'{') => {
            let text = std::str::from_utf8(message)
                .map_err(|e| DecodeError::Json(format!("not UTF-8: {e}")))?;
            match decode_notification(text)? {
                Notice::Message(m) => m,
                Notice::Attachment { .. } => {
                    return Err(DecodeError::Malformed(
                        "an attachment reference where the message belongs".into(),
                    ))
                }
            }
        }
        _ => decode_attachment(message)?,
    };
    Ok((channel, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Body;

    #[test]
    fn json_and_messagepack_read_back() {
        let json = br#"{"type":2,"uid":"u","nsp":"/"}"#;
        let content =
            wal_content("socket.io#/", json.len(), |out| out.extend_from_slice(json)).unwrap();
        let (channel, message) = decode_wal_content(&content).unwrap();
        assert_eq!(channel, "socket.io#/");
        assert_eq!(message.body, Body::Heartbeat);

        let packed = crate::transcode::transcoded(r#"{"type":13,"uid":"u","nsp":"/x"}"#);
        let content =
            wal_content("p#/x", packed.len(), |out| out.extend_from_slice(&packed)).unwrap();
        let (channel, message) = decode_wal_content(&content).unwrap();
        assert_eq!(
            (channel.as_str(), message.body),
            ("p#/x", Body::AdapterClose)
        );
    }

    #[test]
    fn malformed_content_is_an_error() {
        for bad in [
            &b"no nul"[..],
            b"c\0",
            b"c\0{not json",
            b"c\0\xc1",
            b"\xff\0{}",
            b"c\0{\"uid\":\"u\",\"type\":3,\"attachmentId\":\"1\"}",
        ] {
            assert!(decode_wal_content(bad).is_err(), "{bad:?}");
        }
    }
}
