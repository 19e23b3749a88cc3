//! PostgreSQL's `jsonb` and `numeric` values written as their output
//! functions write them, read from their bytes.
//!
//! `jsonb_out` (`JsonbToCString`) was the largest single cost of an emit's
//! own work (callgrind: 1,368 of the 5,348 instructions of `sio_emit`, for
//! `{"n": 1}`): an iterator allocated per level and `numeric_out` through
//! fmgr for every number. This reads the same layouts (`utils/jsonb.h`,
//! unchanged since 9.4; `utils/numeric.c`'s, since 9.5) and writes the same
//! text: for jsonb, `, ` between items, `: ` after keys, strings escaped as
//! `escape_json` escapes them; numbers as `numeric_out` writes them. Bytes it
//! does not know (a number that is not finite, a compressed or out-of-line
//! value, a malformed container, nesting deeper than [`MAX_DEPTH`]) are
//! `None`, and the caller asks PostgreSQL instead. The text is measured
//! first and written into memory of that size, so the caller can allocate
//! it where PostgreSQL's allocator fails with an ERROR.

use crate::row_json::{escaped_len, write_escaped, Out};

/// Deeper containers are left to PostgreSQL: this writer recurses.
pub const MAX_DEPTH: usize = 64;

// utils/jsonb.h
const JB_CMASK: u32 = 0x0FFF_FFFF;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;

/// A value's bytes, its varlena header included (1 byte for a short value
/// in a tuple, unaligned; 4 bytes elsewhere).
#[derive(Clone, Copy)]
pub struct DatumText<'a> {
    pub kind: DatumKind,
    pub varlena: &'a [u8],
}

/// The types [`DatumText`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatumKind {
    Jsonb,
    Numeric,
}

impl DatumText<'_> {
    /// The length of the text the output function writes, or `None` for
    /// bytes this module leaves to PostgreSQL.
    pub fn text_len(self) -> Option<usize> {
        let mut measure = Measure(0);
        self.write_to(&mut measure)?;
        Some(measure.0)
    }

    /// Writes the text into `buf`, which is [`text_len`](Self::text_len)
    /// bytes long.
    pub fn write_text(self, buf: &mut [u8]) -> Option<&str> {
        let mut out = Out::new(buf);
        self.write_to(&mut out)?;
        // Text of the database's encoding, which the extension requires to
        // be UTF-8; checked rather than trusted.
        std::str::from_utf8(out.finish()).ok()
    }

    fn write_to(self, sink: &mut impl Sink) -> Option<()> {
        match self.kind {
            DatumKind::Jsonb => root(varlena_body(self.varlena)?, sink),
            DatumKind::Numeric => {
                sink.number(&Numeric::read(self.varlena)?);
                Some(())
            }
        }
    }
}

/// Where the text goes: counted, then written.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn string(&mut self, text: &[u8]);
    fn number(&mut self, number: &Numeric);
}

struct Measure(usize);

impl Sink for Measure {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    fn string(&mut self, text: &[u8]) {
        self.0 += escaped_len(text);
    }

    fn number(&mut self, number: &Numeric) {
        self.0 += number.text_len();
    }
}

impl Sink for Out<'_> {
    fn put(&mut self, bytes: &[u8]) {
        Out::put(self, bytes);
    }

    fn string(&mut self, text: &[u8]) {
        write_escaped(text, self);
    }

    fn number(&mut self, number: &Numeric) {
        number.write(self);
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(word.try_into().ok()?))
}

/// `INTALIGN`: numbers and containers start 4-aligned within the data.
fn int_align(offset: usize) -> usize {
    (offset + 3) & !3
}

/// A container's header, its entries and the data they point into.
struct Container<'a> {
    header: u32,
    entries: &'a [u8],
    data: &'a [u8],
}

impl<'a> Container<'a> {
    fn read(bytes: &'a [u8]) -> Option<Container<'a>> {
        let header = u32_at(bytes, 0)?;
        let count = (header & JB_CMASK) as usize;
        let entries = if header & JB_FOBJECT != 0 {
            count.checked_mul(2)?
        } else {
            count
        };
        let end = entries.checked_mul(4)?.checked_add(4)?;
        Some(Container {
            header,
            entries: bytes.get(4..end)?,
            data: &bytes[end..],
        })
    }

    fn count(&self) -> usize {
        (self.header & JB_CMASK) as usize
    }

    fn entry(&self, index: usize) -> Option<u32> {
        u32_at(self.entries, index * 4)
    }

    /// Where the data of entry `index` starts (`getJsonbOffset`): the sum of
    /// the lengths before it, back to the last entry that stores its end.
    fn offset(&self, index: usize) -> Option<usize> {
        let mut offset = 0usize;
        for i in (0..index).rev() {
            let entry = self.entry(i)?;
            offset = offset.checked_add((entry & JENTRY_OFFLENMASK) as usize)?;
            if entry & JENTRY_HAS_OFF != 0 {
                break;
            }
        }
        Some(offset)
    }

    /// Entry `index`, whose data starts at `offset`, and where the next
    /// one's starts.
    fn item(
        &self,
        index: usize,
        offset: usize,
        sink: &mut impl Sink,
        depth: usize,
    ) -> Option<usize> {
        let entry = self.entry(index)?;
        let field = (entry & JENTRY_OFFLENMASK) as usize;
        let end = if entry & JENTRY_HAS_OFF != 0 {
            field
        } else {
            offset.checked_add(field)?
        };
        let bytes = self.data.get(offset..end)?;
        let aligned = || self.data.get(int_align(offset)..end);
        match entry & JENTRY_TYPEMASK {
            JENTRY_ISSTRING => sink.string(bytes),
            JENTRY_ISNUMERIC => sink.number(&Numeric::read(aligned()?)?),
            JENTRY_ISBOOL_FALSE => sink.put(b"false"),
            JENTRY_ISBOOL_TRUE => sink.put(b"true"),
            JENTRY_ISNULL => sink.put(b"null"),
            JENTRY_ISCONTAINER => container(&Container::read(aligned()?)?, sink, depth + 1)?,
            _ => return None,
        }
        Some(end)
    }
}

/// The root: a scalar is stored as an array of one, written bare.
fn root(bytes: &[u8], sink: &mut impl Sink) -> Option<()> {
    let root = Container::read(bytes)?;
    if root.header & JB_FSCALAR != 0 {
        if root.header & JB_FARRAY == 0 || root.count() != 1 {
            return None;
        }
        root.item(0, 0, sink, 0).map(drop)
    } else {
        container(&root, sink, 0)
    }
}

fn container(c: &Container, sink: &mut impl Sink, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    let count = c.count();
    if c.header & JB_FOBJECT != 0 {
        // Keys first, then the values in the same order.
        sink.put(b"{");
        let (mut key_at, mut value_at) = (0, c.offset(count)?);
        for i in 0..count {
            if i > 0 {
                sink.put(b", ");
            }
            let key = c.entry(i)?;
            if key & JENTRY_TYPEMASK != JENTRY_ISSTRING {
                return None;
            }
            key_at = c.item(i, key_at, sink, depth)?;
            sink.put(b": ");
            value_at = c.item(count + i, value_at, sink, depth)?;
        }
        sink.put(b"}");
    } else if c.header & JB_FARRAY != 0 && c.header & JB_FSCALAR == 0 {
        sink.put(b"[");
        let mut at = 0;
        for i in 0..count {
            if i > 0 {
                sink.put(b", ");
            }
            at = c.item(i, at, sink, depth)?;
        }
        sink.put(b"]");
    } else {
        return None;
    }
    Some(())
}

/// A finite `numeric` (`utils/numeric.c`): base-10000 digits, the weight of
/// the first, and how many decimal digits follow the point.
struct Numeric<'a> {
    negative: bool,
    weight: i32,
    dscale: usize,
    /// Native-endian `int16` digits.
    digits: &'a [u8],
}

// utils/numeric.c
const NUMERIC_SIGN_MASK: u16 = 0xC000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_SPECIAL: u16 = 0xC000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_DSCALE_MASK: u16 = 0x1F80;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK: u16 = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK: u16 = 0x003F;
const NUMERIC_DSCALE_MASK: u16 = 0x3FFF;

impl<'a> Numeric<'a> {
    /// From a varlena (`bytes` starts at its header), as `init_var_from_num`.
    fn read(bytes: &'a [u8]) -> Option<Numeric<'a>> {
        let body = varlena_body(bytes)?;
        let header = u16::from_ne_bytes(body.get(..2)?.try_into().ok()?);
        let (negative, weight, dscale, digits) = match header & NUMERIC_SIGN_MASK {
            NUMERIC_SPECIAL => return None,
            NUMERIC_SHORT => {
                let low = i32::from(header & NUMERIC_SHORT_WEIGHT_MASK);
                let weight = if header & NUMERIC_SHORT_WEIGHT_SIGN_MASK != 0 {
                    low - 64
                } else {
                    low
                };
                let dscale = (header & NUMERIC_SHORT_DSCALE_MASK) >> 7;
                let negative = header & NUMERIC_SHORT_SIGN_MASK != 0;
                (negative, weight, dscale, &body[2..])
            }
            sign => {
                let weight = i16::from_ne_bytes(body.get(2..4)?.try_into().ok()?);
                let dscale = header & NUMERIC_DSCALE_MASK;
                (sign == NUMERIC_NEG, i32::from(weight), dscale, &body[4..])
            }
        };
        if digits.len() % 2 != 0 {
            return None;
        }
        Some(Numeric {
            negative,
            weight,
            dscale: usize::from(dscale),
            digits,
        })
    }

    /// Digit `index` of the base-10000 digits; zero beyond those stored.
    fn digit(&self, index: i64) -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.digits.get(i * 2..i * 2 + 2))
            .map_or(0, |d| u16::from_ne_bytes([d[0], d[1]]))
    }

    /// The length of `numeric_out`'s text.
    fn text_len(&self) -> usize {
        let integer = if self.weight < 0 {
            1
        } else {
            let first = match self.digit(0) {
                0..=9 => 1,
                10..=99 => 2,
                100..=999 => 3,
                _ => 4,
            };
            first + 4 * self.weight as usize
        };
        let fraction = if self.dscale > 0 { 1 + self.dscale } else { 0 };
        usize::from(self.negative) + integer + fraction
    }

    /// `get_str_from_var`: the integer part without leading zeros (at
    /// least `0`), then `dscale` digits after the point.
    fn write(&self, out: &mut Out) {
        if self.negative {
            out.put(b"-");
        }
        let mut d: i64 = 0;
        if self.weight < 0 {
            out.put(b"0");
            d = i64::from(self.weight) + 1;
        } else {
            for _ in 0..=self.weight {
                let text = four_digits(self.digit(d));
                let skip = if d == 0 {
                    text.iter().take(3).take_while(|&&c| c == b'0').count()
                } else {
                    0
                };
                out.put(&text[skip..]);
                d += 1;
            }
        }
        if self.dscale > 0 {
            out.put(b".");
            let mut left = self.dscale;
            while left > 0 {
                let text = four_digits(self.digit(d));
                let n = left.min(4);
                out.put(&text[..n]);
                left -= n;
                d += 1;
            }
        }
    }
}

fn four_digits(digit: u16) -> [u8; 4] {
    let digit = digit.min(9999);
    [
        b'0' + (digit / 1000) as u8,
        b'0' + (digit / 100 % 10) as u8,
        b'0' + (digit / 10 % 10) as u8,
        b'0' + (digit % 10) as u8,
    ]
}

/// A varlena's content: after a 4-byte header, or a 1-byte one (a short
/// value copied from a tuple). Compressed or external ones are `None`.
fn varlena_body(bytes: &[u8]) -> Option<&[u8]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    let first = *bytes.first()?;
    if first & 0x01 == 0x01 {
        // VARATT_IS_1B; 0x01 alone is VARATT_IS_1B_E (external).
        let len = usize::from(first >> 1);
        if first == 0x01 || len < 1 {
            return None;
        }
        bytes.get(1..len)
    } else {
        let header = u32_at(bytes, 0)?;
        if header & 0x03 != 0 {
            return None;
        }
        bytes.get(4..(header >> 2) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds jsonb bytes as `convertJsonbValue` lays them out, for the
    /// values these tests need.
    enum J {
        Null,
        Bool(bool),
        Str(&'static str),
        /// A long-format numeric: (negative, weight, dscale, digits).
        Num(bool, i16, u16, Vec<u16>),
        Arr(Vec<J>),
        Obj(Vec<(&'static str, J)>),
    }

    fn pad(data: &mut Vec<u8>) {
        while data.len() % 4 != 0 {
            data.push(0);
        }
    }

    /// The entry's type bits and the value's bytes, written at `data`.
    fn value(j: &J, data: &mut Vec<u8>) -> u32 {
        match j {
            J::Null => JENTRY_ISNULL,
            J::Bool(false) => JENTRY_ISBOOL_FALSE,
            J::Bool(true) => JENTRY_ISBOOL_TRUE,
            J::Str(s) => {
                data.extend_from_slice(s.as_bytes());
                JENTRY_ISSTRING
            }
            J::Num(negative, weight, dscale, digits) => {
                pad(data);
                let size = 4 + 4 + 2 * digits.len();
                data.extend_from_slice(&((size as u32) << 2).to_ne_bytes());
                let sign = if *negative { NUMERIC_NEG } else { 0 };
                data.extend_from_slice(&(sign | dscale).to_ne_bytes());
                data.extend_from_slice(&weight.to_ne_bytes());
                digits
                    .iter()
                    .for_each(|d| data.extend_from_slice(&d.to_ne_bytes()));
                JENTRY_ISNUMERIC
            }
            J::Arr(_) | J::Obj(_) => {
                pad(data);
                data.extend_from_slice(&container_bytes(j, false));
                JENTRY_ISCONTAINER
            }
        }
    }

    fn container_bytes(j: &J, scalar: bool) -> Vec<u8> {
        let (header, items): (u32, Vec<&J>) = match j {
            J::Arr(items) => (JB_FARRAY | items.len() as u32, items.iter().collect()),
            J::Obj(members) => {
                let keys: Vec<J> = members.iter().map(|(k, _)| J::Str(k)).collect();
                let keys = Box::leak(keys.into_boxed_slice());
                let items = keys.iter().chain(members.iter().map(|(_, v)| v)).collect();
                (JB_FOBJECT | members.len() as u32, items)
            }
            scalar_value => (JB_FARRAY | JB_FSCALAR | 1, vec![scalar_value]),
        };
        let header = if scalar { header | JB_FSCALAR } else { header };
        let mut data = Vec::new();
        let mut entries = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let start = data.len();
            let kind = value(item, &mut data);
            // Every 32nd entry stores its end, the others their length.
            let field = if i % 32 == 0 {
                data.len() as u32 | JENTRY_HAS_OFF
            } else {
                (data.len() - start) as u32
            };
            entries.extend_from_slice(&(kind | field).to_ne_bytes());
        }
        let mut bytes = header.to_ne_bytes().to_vec();
        bytes.extend_from_slice(&entries);
        bytes.extend_from_slice(&data);
        bytes
    }

    fn jsonb(varlena: &[u8]) -> DatumText<'_> {
        DatumText {
            kind: DatumKind::Jsonb,
            varlena,
        }
    }

    fn numeric(varlena: &[u8]) -> DatumText<'_> {
        DatumText {
            kind: DatumKind::Numeric,
            varlena,
        }
    }

    /// `body` behind a 4-byte varlena header.
    fn varlena(body: &[u8]) -> Vec<u8> {
        let mut bytes = (((body.len() + 4) as u32) << 2).to_ne_bytes().to_vec();
        bytes.extend_from_slice(body);
        bytes
    }

    fn written(datum: DatumText) -> Option<String> {
        let mut buf = vec![0; datum.text_len()?];
        datum.write_text(&mut buf).map(str::to_owned)
    }

    fn text(j: &J) -> Option<String> {
        written(jsonb(&varlena(&container_bytes(j, false))))
    }

    #[test]
    fn writes_what_jsonb_out_writes() {
        use J::*;
        let many: Vec<J> = (0..40).map(|_| Str("ab")).collect();
        let cases = [
            (Null, "null"),
            (Bool(true), "true"),
            (Str("a\"\\\n\u{1}é"), r#""a\"\\\n\u0001é""#),
            (Num(false, 0, 0, vec![1]), "1"),
            (Num(true, 1, 2, vec![12, 3400, 5000]), "-123400.50"),
            (Num(false, -2, 6, vec![1200]), "0.000012"),
            (Num(false, 2, 0, vec![1]), "100000000"),
            (Num(false, 0, 3, vec![]), "0.000"),
            (Arr(vec![]), "[]"),
            (Obj(vec![]), "{}"),
            (
                Obj(vec![
                    ("a", Arr(vec![Num(false, 0, 0, vec![1]), Null])),
                    ("bc", Obj(vec![("", Bool(false))])),
                ]),
                r#"{"a": [1, null], "bc": {"": false}}"#,
            ),
        ];
        for (j, expected) in cases {
            assert_eq!(text(&j).as_deref(), Some(expected));
        }
        let expected = format!("[{}]", vec![r#""ab""#; 40].join(", "));
        assert_eq!(text(&Arr(many)).as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn a_scalar_root_is_written_bare() {
        let bytes = varlena(&container_bytes(&J::Str("x"), true));
        assert_eq!(written(jsonb(&bytes)).as_deref(), Some(r#""x""#));
    }

    #[test]
    fn a_numeric_with_either_header() {
        // 12.5 in the short format: dscale 1, weight 0, digits 12 and 5000.
        let short = [NUMERIC_SHORT | (1 << 7), 12, 5000]
            .map(u16::to_ne_bytes)
            .concat();
        let four = varlena(&short);
        assert_eq!(written(numeric(&four)).as_deref(), Some("12.5"));
        let mut one = vec![((short.len() + 1) << 1 | 1) as u8];
        one.extend_from_slice(&short);
        assert_eq!(written(numeric(&one)).as_deref(), Some("12.5"));
        // NaN is left to PostgreSQL, as a compressed value is.
        let nan = varlena(&NUMERIC_SPECIAL.to_ne_bytes());
        assert_eq!(numeric(&nan).text_len(), None);
        let mut compressed = four.clone();
        compressed[0] |= 0x02;
        assert_eq!(numeric(&compressed).text_len(), None);
    }

    #[test]
    fn deeper_than_max_depth_is_left_to_postgresql() {
        let nest = |depth: usize| (0..depth).fold(J::Arr(vec![]), |inner, _| J::Arr(vec![inner]));
        assert!(text(&nest(MAX_DEPTH)).is_some());
        assert_eq!(text(&nest(MAX_DEPTH + 1)), None);
    }

    #[test]
    fn malformed_bytes_are_none_never_a_panic() {
        let good = varlena(&container_bytes(
            &J::Obj(vec![(
                "k",
                J::Arr(vec![J::Num(false, 0, 2, vec![7]), J::Str("v")]),
            )]),
            false,
        ));
        assert!(written(jsonb(&good)).is_some());
        for len in 0..good.len() {
            let cut = jsonb(&good[..len]);
            assert_eq!(cut.text_len(), None, "cut at {len}");
        }
        // Every byte changed to every value: None or some text, no panic.
        for at in 0..good.len() {
            for b in 0..=255u8 {
                let mut bad = good.clone();
                bad[at] = b;
                written(jsonb(&bad));
            }
        }
    }
}
