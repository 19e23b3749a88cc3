//! Walks one MessagePack value's structure without decoding it: where its
//! strings and binaries are. Iterative, so that any depth is safe; a value
//! cut short is an error, never a panic.

use rmp::Marker;

/// What holds bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Bin,
}

/// A string or binary: its marker's offset, and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub kind: Kind,
    pub at: usize,
    pub data: std::ops::Range<usize>,
}

/// Calls `found` for every string and binary of the value at the start of
/// `bytes`, in order; returns the value's length.
pub(crate) fn walk(bytes: &[u8], mut found: impl FnMut(Span)) -> Result<usize, Cut> {
    let mut pos = 0usize;
    let mut pending = 1usize;
    let be = |pos: usize, n: usize| -> Result<usize, Cut> {
        let field = bytes.get(pos..pos + n).ok_or(Cut)?;
        Ok(field
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b)))
    };
    while pending > 0 {
        pending -= 1;
        let at = pos;
        let marker = Marker::from_u8(*bytes.get(pos).ok_or(Cut)?);
        pos += 1;
        // (length field width, kind) of a sized str/bin/ext; containers and
        // fixed-size values are handled inline.
        let sized = match marker {
            Marker::FixArray(n) => {
                pending += usize::from(n);
                None
            }
            Marker::FixMap(n) => {
                pending += 2 * usize::from(n);
                None
            }
            Marker::Array16 | Marker::Array32 | Marker::Map16 | Marker::Map32 => {
                let w = if matches!(marker, Marker::Array16 | Marker::Map16) {
                    2
                } else {
                    4
                };
                let n = be(pos, w)?;
                pos += w;
                let per = if matches!(marker, Marker::Map16 | Marker::Map32) {
                    2
                } else {
                    1
                };
                pending = pending
                    .checked_add(n.checked_mul(per).ok_or(Cut)?)
                    .ok_or(Cut)?;
                None
            }
            Marker::FixStr(n) => {
                found(Span {
                    kind: Kind::Str,
                    at,
                    data: pos..pos + usize::from(n),
                });
                pos += usize::from(n);
                None
            }
            Marker::Str8 => Some((1, Some(Kind::Str))),
            Marker::Str16 => Some((2, Some(Kind::Str))),
            Marker::Str32 => Some((4, Some(Kind::Str))),
            Marker::Bin8 => Some((1, Some(Kind::Bin))),
            Marker::Bin16 => Some((2, Some(Kind::Bin))),
            Marker::Bin32 => Some((4, Some(Kind::Bin))),
            // Extensions: a type byte, then the data.
            Marker::Ext8 => Some((1, None)),
            Marker::Ext16 => Some((2, None)),
            Marker::Ext32 => Some((4, None)),
            Marker::Reserved => return Err(Cut),
            other => {
                pos += fixed_len(other);
                None
            }
        };
        if let Some((width, kind)) = sized {
            let n = be(pos, width)?;
            pos += width;
            match kind {
                Some(kind) => found(Span {
                    kind,
                    at,
                    data: pos..pos + n,
                }),
                None => pos += 1, // the extension's type
            }
            pos = pos.checked_add(n).ok_or(Cut)?;
        }
        if pos > bytes.len() {
            return Err(Cut);
        }
    }
    Ok(pos)
}

/// The bytes after the marker of a value of fixed size: numbers, fixed
/// extensions (a type byte and the data); none for nil, booleans and
/// fixints.
fn fixed_len(marker: Marker) -> usize {
    match marker {
        Marker::U8 | Marker::I8 => 1,
        Marker::U16 | Marker::I16 | Marker::FixExt1 => 2,
        Marker::FixExt2 => 3,
        Marker::U32 | Marker::I32 | Marker::F32 => 4,
        Marker::FixExt4 => 5,
        Marker::U64 | Marker::I64 | Marker::F64 => 8,
        Marker::FixExt8 => 9,
        Marker::FixExt16 => 17,
        _ => 0,
    }
}

/// The value ends before its structure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_strings_and_binaries_and_skips_the_rest() {
        let value = rmpv::Value::Array(vec![
            rmpv::Value::from("ab"),
            rmpv::Value::Binary(vec![1, 2, 3]),
            rmpv::Value::Ext(-1, vec![0; 4]),
            rmpv::Value::Map(vec![(
                rmpv::Value::from(1),
                rmpv::Value::from("x".repeat(40)),
            )]),
            rmpv::Value::F64(1.5),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &value).unwrap();
        let mut spans = Vec::new();
        assert_eq!(walk(&bytes, |s| spans.push(s)), Ok(bytes.len()));
        let kinds: Vec<(Kind, usize)> = spans.iter().map(|s| (s.kind, s.data.len())).collect();
        assert_eq!(kinds, [(Kind::Str, 2), (Kind::Bin, 3), (Kind::Str, 40)]);
        assert_eq!(&bytes[spans[1].data.clone()], &[1, 2, 3]);
        for cut in 0..bytes.len() {
            assert_eq!(walk(&bytes[..cut], |_| {}), Err(Cut), "cut at {cut}");
        }
    }
}
