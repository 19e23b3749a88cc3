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
        let (token, len) = match first {
            b'{' | b'[' => (
                Token::Open {
                    object: first == b'{',
                },
                1,
            ),
            b'}' | b']' => (Token::Close, 1),
            b'"' => {
                let Some((end, escaped)) = string_end(bytes, start + 1) else {
                    return Some(Err(malformed("an unterminated string")));
                };
                let raw = &self.json[start + 1..end];
                (Token::Str(JsonStr { raw, escaped }), end + 1 - start)
            }
            b'-' | b'0'..=b'9' => {
                let len = bytes[start..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .unwrap_or(bytes.len() - start);
                (Token::Number(&self.json[start..start + len]), len)
            }
            _ => {
                // Compared as bytes of a known length: no call per literal.
                let word = |w: &[u8]| bytes.get(start..start + w.len()) == Some(w);
                if word(b"true") {
                    (Token::Bool(true), 4)
                } else if word(b"false") {
                    (Token::Bool(false), 5)
                } else if word(b"null") {
                    (Token::Null, 4)
                } else {
                    return Some(Err(malformed("an unexpected character")));
                }
            }
        };
        self.at = start + len;
        Some(Ok((start, token)))
    }
}

/// Where the string whose text starts at `from` ends (its closing quote,
/// the first not escaped), and whether it has an escape.
fn string_end(bytes: &[u8], mut from: usize) -> Option<(usize, bool)> {
    // Most strings are keys and short values: a plain loop over their
    // first bytes is cheaper than setting up memchr's vector search (which
    // was a quarter of tokenizing a statement's rows, callgrind).
    const SHORT: usize = 16;
    let mut escaped = false;
    loop {
        let rest = bytes.get(from..)?;
        let short = rest.len().min(SHORT);
        let n = match rest[..short].iter().position(|&b| b == b'"' || b == b'\\') {
            Some(n) => n,
            None => short + memchr::memchr2(b'"', b'\\', &rest[short..])?,
        };
        if rest[n] == b'"' {
            return Some((from + n, escaped));
        }
        escaped = true;
        from += n + 2;
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
