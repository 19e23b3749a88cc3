//! Channel names: `<prefix>#<namespace>`, e.g. `socket.io#/admin`.

use crate::Error;

/// The adapter's default channel prefix.
pub const DEFAULT_PREFIX: &str = "socket.io";

/// PostgreSQL's NAMEDATALEN - 1: `pg_notify` refuses longer channel names and
/// `LISTEN` silently truncates them, so a longer one could never be delivered.
pub const MAX_CHANNEL_LEN: usize = 63;

/// Checks that `nsp` is a namespace name as Socket.IO spells it.
pub fn check_namespace(nsp: &str) -> Result<(), Error> {
    if nsp.starts_with('/') {
        Ok(())
    } else {
        Err(Error::BadNamespace {
            nsp: nsp.to_owned(),
        })
    }
}

/// The channel on which the servers of namespace `nsp` listen.
pub fn channel_name(prefix: &str, nsp: &str) -> Result<String, Error> {
    if prefix.is_empty() {
        return Err(Error::EmptyPrefix);
    }
    check_namespace(nsp)?;
    // Room for the NUL of the C string PostgreSQL takes it as.
    let mut channel = String::with_capacity(prefix.len() + 1 + nsp.len() + 1);
    channel.push_str(prefix);
    channel.push('#');
    channel.push_str(nsp);
    if channel.len() > MAX_CHANNEL_LEN {
        return Err(Error::ChannelTooLong {
            len: channel.len(),
            channel,
            max: MAX_CHANNEL_LEN,
        });
    }
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_channels() {
        assert_eq!(channel_name("socket.io", "/").unwrap(), "socket.io#/");
        assert_eq!(
            channel_name("socket.io", "/admin").unwrap(),
            "socket.io#/admin"
        );
    }

    #[test]
    fn length_limit_is_in_bytes() {
        // 10 bytes of prefix and '#', so 53 bytes of namespace fit.
        let fits = format!("/{}", "a".repeat(52));
        assert_eq!(channel_name("socket.io", &fits).unwrap().len(), 63);
        let too_long = format!("/{}", "a".repeat(53));
        assert!(matches!(
            channel_name("socket.io", &too_long),
            Err(Error::ChannelTooLong {
                len: 64,
                max: 63,
                ..
            })
        ));
        // 26 two-byte characters and "/": 53 bytes, fits; one more byte does not.
        let multibyte = format!("/{}", "é".repeat(26));
        assert_eq!(channel_name("socket.io", &multibyte).unwrap().len(), 63);
        assert!(channel_name("socket.io", &format!("{multibyte}a")).is_err());
    }

    #[test]
    fn namespace_must_start_with_slash() {
        assert_eq!(
            channel_name("socket.io", "admin"),
            Err(Error::BadNamespace {
                nsp: "admin".into()
            })
        );
        assert!(channel_name("socket.io", "").is_err());
    }

    #[test]
    fn empty_prefix_is_refused() {
        assert_eq!(channel_name("", "/"), Err(Error::EmptyPrefix));
    }
}
