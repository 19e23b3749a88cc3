//! A JSON number as JavaScript reads it, and whether that keeps every digit
//! of its text: JSON carries any number (`numeric` writes 40 digits, `1e400`
//! is valid JSON), a Node.js server reads the float64 nearest to it.

/// A JSON number's text as a value: an integer when it is one that fits 64
/// bits, otherwise the float64 JavaScript reads (`1e400` is Infinity).
/// `None` for text that is not a number.
pub(crate) fn javascript_number(text: &str) -> Option<rmpv::Value> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>().ok().map(rmpv::Value::F64)
}

/// Whether `read`, what [`javascript_number`] made of `text`, is the number
/// `text` writes: `false` when digits were lost (`12345678901234567890123`,
/// `0.10000000000000000001`) or the number is beyond float64 (`1e400`).
pub(crate) fn keeps_digits(text: &str, read: &rmpv::Value) -> bool {
    let rmpv::Value::F64(f) = *read else {
        return true;
    };
    if !f.is_finite() {
        return false;
    }
    let written = Decimal::of(text);
    // Every decimal of at most 15 significant digits within float64's
    // normal range is read back exactly (DBL_DIG): most numbers stop here.
    if written.digits.len() <= 15 && (-300..=300).contains(&written.exponent) {
        return true;
    }
    // The shortest text that reads back as `f`, the float's own digits,
    // written by ryu (what serde_json writes floats with), without
    // allocating: 45 ns a number of 17 digits, where `format!("{f:e}")`
    // took 170 ns, eight times reading the number (BENCHMARKS.md).
    let mut shortest = ryu::Buffer::new();
    let shortest = shortest.format_finite(f);
    // As PostgreSQL writes float8 (`extra_float_digits` 1): the same text.
    shortest == text || written == Decimal::of(shortest)
}

/// Whether JSON text may hold a number that loses digits to float64: one
/// written with 16 or more digits, or with an exponent of 3 or more
/// digits. Any other number has at most 15 significant digits and lies
/// within 1e±115, which float64 reads back exactly (DBL_DIG). A quick look
/// before the exact one, for notifications whose arguments hold a float
/// (coordinates, prices): a number starts after `[`, `,`, `:` or
/// whitespace (a string's digits after a quote or a letter are passed
/// over, as in UUIDs); a string that looks like one only costs the exact
/// check.
pub(crate) fn may_lose_digits(json: &str) -> bool {
    let bytes = json.as_bytes();
    let run = |from: usize, of: fn(u8) -> bool| {
        from + bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|&&b| of(b))
            .count()
    };
    let mut at = 0;
    while let Some(offset) = bytes[at..]
        .iter()
        .position(|b| matches!(b, b'[' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r'))
    {
        let mut start = at + offset + 1;
        if bytes.get(start) == Some(&b'-') {
            start += 1;
        }
        let end = run(start, |b| b.is_ascii_digit() || b == b'.');
        if end - start >= 16 {
            return true;
        }
        if end > start && matches!(bytes.get(end), Some(b'e' | b'E')) {
            let from = end + 1 + usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
            if run(from, |b| b.is_ascii_digit()) - from >= 3 {
                return true;
            }
        }
        at = end.max(at + offset + 1);
    }
    false
}

/// A number's value as significant digits × 10^exponent, zeros trimmed, so
/// that two texts of one value compare equal (`1.50`, `15e-1`).
#[derive(PartialEq, Debug)]
struct Decimal<'a> {
    negative: bool,
    /// Without leading or trailing zeros, in runs of the text (the integer
    /// and the fraction part): compared as one string.
    digits: Digits<'a>,
    exponent: i64,
}

#[derive(Debug)]
struct Digits<'a>(&'a str, &'a str);

impl Digits<'_> {
    fn len(&self) -> usize {
        self.0.len() + self.1.len()
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.bytes().chain(self.1.bytes())
    }
}

impl PartialEq for Digits<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.bytes().eq(other.bytes())
    }
}

impl<'a> Decimal<'a> {
    /// Reads a valid JSON number (or ryu's text of a float).
    fn of(text: &'a str) -> Self {
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
        // An exponent beyond i64 is as good as infinite: the float is 0 or
        // ±Infinity then, never the number written, unless that is 0.
        let exponent = exponent.trim_start_matches('+').parse::<i64>().unwrap_or(
            if exponent.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            },
        );
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut exponent = exponent.saturating_sub(frac.len() as i64);
        let int = int.trim_start_matches('0');
        let frac = if int.is_empty() {
            frac.trim_start_matches('0')
        } else {
            frac
        };
        // Trailing zeros, of the fraction and then of the integer part,
        // are a power of ten.
        let kept = frac.trim_end_matches('0');
        let (int, frac) = if kept.is_empty() {
            let trimmed = int.trim_end_matches('0');
            exponent = exponent.saturating_add((frac.len() + int.len() - trimmed.len()) as i64);
            (trimmed, "")
        } else {
            exponent = exponent.saturating_add((frac.len() - kept.len()) as i64);
            (int, kept)
        };
        let digits = Digits(int, frac);
        if digits.len() == 0 {
            // Zero, whatever its sign and exponent.
            return Decimal {
                negative: false,
                digits,
                exponent: 0,
            };
        }
        Decimal {
            negative,
            digits,
            exponent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeps(text: &str) -> bool {
        keeps_digits(text, &javascript_number(text).unwrap())
    }

    #[test]
    fn integers_of_64_bits_are_integers() {
        assert_eq!(
            javascript_number("18446744073709551615"),
            Some(u64::MAX.into())
        );
        assert_eq!(
            javascript_number("-9223372036854775808"),
            Some(i64::MIN.into())
        );
        assert_eq!(javascript_number("1.0"), Some(rmpv::Value::F64(1.0)));
        assert_eq!(
            javascript_number("1e400"),
            Some(rmpv::Value::F64(f64::INFINITY))
        );
        assert_eq!(javascript_number("x"), None);
    }

    #[test]
    fn numbers_float64_holds_keep_their_digits() {
        for text in [
            "0",
            "-0",
            "0.0",
            "1.50",
            "15e-1",
            "1.5E+0",
            "0.1",
            "-2.5e-3",
            "1e300",
            "1e-300",
            "5e-324",
            "1.7976931348623157e308",
            "0.30000000000000004",
            "0.300000000000000040",
            "3.0000000000000004E-1",
            "123456789012345.6",
            "9007199254740993",
            "18446744073709551615",
            "1e22",
            "100000000000000000000000",
            "0e999999999999999999999",
            "0.000000000000000000000000000001",
        ] {
            assert!(keeps(text), "{text}");
        }
    }

    #[test]
    fn numbers_float64_cannot_hold_lose_digits() {
        for text in [
            "1e400",
            "-1e400",
            "123456789012345678901234567890",
            "18446744073709551616",
            "0.10000000000000000001",
            "1.00000000000000000000000000000000000000001",
            "1e-400",
            "2e-324",
            "1e99999999999999999999",
            "1e-99999999999999999999",
            "1234567890123456789.5",
            "9007199254740993e-1000000000000000000000",
        ] {
            assert!(!keeps(text), "{text}");
        }
    }

    #[test]
    fn every_number_that_may_lose_digits_is_looked_at() {
        for json in [
            "[1234567890123456]",
            "[1e400]",
            "{\"a\": -0.0000000000000001}",
            "[1,1E-300]",
            "[1,1e+300]",
            "[1234567890123456789012345678901234567890]",
        ] {
            assert!(may_lose_digits(json), "{json}");
        }
        for json in [
            "[123456789012345, 1.5e99, -0.1234567890123]",
            "{\"id\":\"550e8400-e29b-41d4-a716-446655440000\"}",
            "{\"at\":\"2026-12-06T06:45:00.123456+00:00\"}",
            "[\"x1234567890123456789\"]",
            "",
            "[",
        ] {
            assert!(!may_lose_digits(json), "{json}");
        }
    }

    #[test]
    fn one_value_is_one_decimal_however_written() {
        assert_eq!(Decimal::of("1.50"), Decimal::of("15e-1"));
        assert_eq!(Decimal::of("1500"), Decimal::of("1.5e3"));
        assert_eq!(Decimal::of("0.0015"), Decimal::of("1.5e-3"));
        assert_eq!(Decimal::of("-0"), Decimal::of("0e5"));
        assert_ne!(Decimal::of("15"), Decimal::of("1.5"));
        assert_ne!(Decimal::of("-1"), Decimal::of("1"));
    }
}
