//! Reading JSON text that is known to be valid (from `jsonb_out`, or a
//! `RawValue`) without building a tree: a flat tokenizer, and string
//! unescaping. Shared by the MessagePack transcoder and the row-change
//! payloads.

use crate::Error;

/// One lexical token of JSON text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Token<'a> {
    Open { object: bool },
    Close,
    Str(JsonStr<'a>),
    Number(&'a str),
    Bool(bool),
    Null,
}

/// A string token: its raw text between the quotes, escapes not yet
/// resolved, and whether it has any (most have none, and are used as they
/// are).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct JsonStr<'a> {
    pub raw: &'a str,
    pub escaped: bool,
}

/// The tokens of `json`, with their byte offsets. Commas and colons carry no
/// information once the text is known to be JSON; `plan` checks it is.
pub(crate) struct Tokens<'a> {
    json: &'a str,
    pub(crate) at: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<(usize, Token<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.json.as_bytes();
        while let Some(&b) = bytes.get(self.at) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b':') {
                self.at += 1;
            } else {
                break;
            }
        }
        let start = self.at;
        let first = *bytes.get(start)?;
        let token = match first {
            b'{' | b'[' => Token::Open {
                object: first == b'{',
            },
            b'}' | b']' => Token::Close,
            b'"' => {
                // The closing quote: the first not escaped.
                let mut i = start + 1;
                let mut escaped = false;
                let end = loop {
                    match memchr::memchr2(b'"', b'\\', bytes.get(i..).unwrap_or_default()) {
                        Some(n) if bytes[i + n] == b'"' => break i + n,
                        Some(n) => {
                            escaped = true;
                            i += n + 2;
                        }
                        None => return Some(Err(malformed("an unterminated string"))),
                    }
                };
                self.at = end + 1;
                let raw = &self.json[start + 1..end];
                return Some(Ok((start, Token::Str(JsonStr { raw, escaped }))));
            }
            b'-' | b'0'..=b'9' => {
                let end = bytes[start..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(bytes.len(), |n| start + n);
                self.at = end;
                return Some(Ok((start, Token::Number(&self.json[start..end]))));
            }
            _ => {
                let word = |w: &str| self.json[start..].starts_with(w);
                let (token, len) = if word("true") {
                    (Token::Bool(true), 4)
                } else if word("false") {
                    (Token::Bool(false), 5)
                } else if word("null") {
                    (Token::Null, 4)
                } else {
                    return Some(Err(malformed("an unexpected character")));
                };
                self.at += len;
                return Some(Ok((start, token)));
            }
        };
        self.at += 1;
        Some(Ok((start, token)))
    }
}

pub(crate) fn malformed(what: &str) -> Error {
    Error::Json(format!("{what} in a JSON argument"))
}

pub(crate) fn tokens(json: &str) -> Tokens<'_> {
    Tokens { json, at: 0 }
}

/// Calls `sink` with the UTF-8 of a JSON string's raw text, escapes
/// resolved. A lone surrogate (JSON allows it, UTF-8 cannot hold it) becomes
/// U+FFFD.
pub(crate) fn unescape(
    raw: &str,
    mut sink: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        sink(&rest.as_bytes()[..i])?;
        let escape = rest.as_bytes().get(i + 1).copied();
        rest = &rest[i + 2..];
        let c = match escape {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let (unit, after) = hex4(rest)?;
                rest = after;
                if (0xD800..0xDC00).contains(&unit) {
                    match rest.strip_prefix("\\u").map(hex4) {
                        Some(Ok((low, after))) if (0xDC00..0xE000).contains(&low) => {
                            rest = after;
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                                .unwrap_or(char::REPLACEMENT_CHARACTER)
                        }
                        _ => char::REPLACEMENT_CHARACTER,
                    }
                } else {
                    char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
                }
            }
            _ => return Err(malformed("a malformed escape")),
        };
        sink(c.encode_utf8(&mut [0; 4]).as_bytes())?;
    }
    sink(rest.as_bytes())
}

fn hex4(text: &str) -> Result<(u32, &str), Error> {
    text.get(..4)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .map(|unit| (unit, &text[4..]))
        .ok_or_else(|| malformed("a malformed \\u escape"))
}

/// A string's text, escapes resolved (a bad escape gives the empty string).
pub(crate) fn unescaped(raw: &str) -> String {
    let mut key = Vec::with_capacity(raw.len());
    // Planning checked nothing yet; a bad escape leaves the key unmatched.
    let _ = unescape(raw, |chunk| {
        key.extend_from_slice(chunk);
        Ok(())
    });
    String::from_utf8(key).unwrap_or_default()
}
