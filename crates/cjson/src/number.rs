//! Numbers as lua-cjson reads and writes them: C's `strtoll` and `strtod`
//! (the glibc grammar, hexadecimal floats, `inf`/`nan` included) on the way
//! in, and `printf("%.<precision>g")` and `%lld` on the way out.
//!
//! The input is read as C reads a Lua string: byte 0 (or the end) stops
//! every scan.

/// The byte at `i`, or 0 past the end (a Lua string ends in a NUL).
#[inline]
pub(crate) fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// An optional `+` or `-` at `i`, as C's conversions read it: whether it
/// was `-`, and where the number itself starts.
fn sign_at(s: &[u8], i: usize) -> (bool, usize) {
    match at(s, i) {
        b'-' => (true, i + 1),
        b'+' => (false, i + 1),
        _ => (false, i),
    }
}

/// C's `strtoll(s, &end, 10)` from `start`: the value (saturated on
/// overflow) and where the scan stopped (`start` when nothing was read).
/// The scan never starts at white space here, so none is skipped.
pub fn strtoll(s: &[u8], start: usize) -> (i64, usize) {
    let (negative, mut i) = sign_at(s, start);
    let digits = i;
    let mut acc: i64 = 0;
    let mut overflow = false;
    while at(s, i).is_ascii_digit() {
        let d = i64::from(at(s, i) - b'0');
        if !overflow {
            // Accumulate negatively so i64::MIN is reachable.
            match acc.checked_mul(10).and_then(|v| v.checked_sub(d)) {
                Some(v) => acc = v,
                None => overflow = true,
            }
        }
        i += 1;
    }
    if i == digits {
        return (0, start);
    }
    let value = if overflow {
        if negative {
            i64::MIN
        } else {
            i64::MAX
        }
    } else if negative {
        acc
    } else {
        acc.checked_neg().unwrap_or(i64::MAX)
    };
    (value, i)
}

/// C's `strtod(s, &end)` from `start` (glibc's grammar: decimal, `0x`
/// hexadecimal with an optional `p` exponent, `inf`, `infinity`, `nan`,
/// `nan(chars)`, each after an optional sign): the value and where the
/// scan stopped, or `None` when nothing was read.
pub fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let (negative, i) = sign_at(s, start);
    let sign = |v: f64| if negative { -v } else { v };
    if starts_with_ci(s, i, b"inf") {
        let end = if starts_with_ci(s, i, b"infinity") {
            i + 8
        } else {
            i + 3
        };
        return Some((sign(f64::INFINITY), end));
    }
    if starts_with_ci(s, i, b"nan") {
        let mut end = i + 3;
        if at(s, end) == b'(' {
            let mut j = end + 1;
            while at(s, j).is_ascii_alphanumeric() || at(s, j) == b'_' {
                j += 1;
            }
            if at(s, j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(s, i) == b'0' && (at(s, i + 1) | 0x20) == b'x' {
        if let Some((v, end)) = hex_float(s, i + 2) {
            return Some((sign(v), end));
        }
        // "0x" with no hex digit after it reads as the "0".
        return Some((sign(0.0), i + 1));
    }
    decimal(s, i).map(|(v, end)| (sign(v), end))
}

/// ASCII case-insensitive prefix test at `i`.
fn starts_with_ci(s: &[u8], i: usize, word: &[u8]) -> bool {
    word.iter()
        .enumerate()
        .all(|(k, w)| at(s, i + k).to_ascii_lowercase() == *w)
}

/// Reads an exponent's digits (after `e` or `p`) from `i`, saturating;
/// `None` when there is no digit.
fn exponent(s: &[u8], mut i: usize) -> Option<(i64, usize)> {
    let negative = match at(s, i) {
        b'-' => {
            i += 1;
            true
        }
        b'+' => {
            i += 1;
            false
        }
        _ => false,
    };
    if !at(s, i).is_ascii_digit() {
        return None;
    }
    let mut e: i64 = 0;
    while at(s, i).is_ascii_digit() {
        e = (e * 10 + i64::from(at(s, i) - b'0')).min(1 << 40);
        i += 1;
    }
    Some((if negative { -e } else { e }, i))
}

/// A decimal number without its sign, correctly rounded.
fn decimal(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let mut i = start;
    // The significant digits (no leading zeros) and the power of ten of the
    // position just after the last digit read.
    let mut digits: Vec<u8> = Vec::new();
    let mut scale: i64 = 0;
    let mut any = false;
    while at(s, i).is_ascii_digit() {
        any = true;
        let d = at(s, i);
        if !(digits.is_empty() && d == b'0') {
            digits.push(d);
        }
        i += 1;
    }
    // Digits before the point count up; those after it count down.
    let int_digits = digits.len() as i64;
    if at(s, i) == b'.' {
        let mut j = i + 1;
        let mut frac_any = false;
        while at(s, j).is_ascii_digit() {
            frac_any = true;
            let d = at(s, j);
            if digits.is_empty() && d == b'0' {
                scale -= 1;
            } else {
                digits.push(d);
            }
            j += 1;
        }
        if any || frac_any {
            any = true;
            i = j;
        }
    }
    if !any {
        return None;
    }
    let mut exp10: i64 = 0;
    if at(s, i) | 0x20 == b'e' {
        if let Some((e, end)) = exponent(s, i + 1) {
            exp10 = e;
            i = end;
        }
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return Some((0.0, i));
    }
    // value = 0.DIGITS * 10^point
    let point = int_digits + scale + exp10;
    if point > 330 {
        return Some((f64::INFINITY, i));
    }
    if point < -345 {
        return Some((0.0, i));
    }
    let mut text = Vec::with_capacity(digits.len() + 16);
    text.extend_from_slice(b"0.");
    text.extend_from_slice(&digits);
    text.extend_from_slice(format!("e{point}").as_bytes());
    let value = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    Some((value, i))
}

/// The digits of a hexadecimal float after its `0x`, correctly rounded
/// (ties to even); `None` when no hex digit follows.
fn hex_float(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let mut i = start;
    let mut mant: u64 = 0;
    let mut exp2: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut seen_point = false;
    loop {
        let c = at(s, i);
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        any = true;
        if mant >> 60 == 0 {
            mant = (mant << 4) | u64::from(d);
            if seen_point {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                exp2 += 4;
            }
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if at(s, i) | 0x20 == b'p' {
        if let Some((e, end)) = exponent(s, i + 1) {
            exp2 = exp2.saturating_add(e);
            i = end;
        }
    }
    if mant == 0 {
        return Some((0.0, i));
    }
    Some((round_binary(mant, exp2, sticky), i))
}

/// `mant * 2^exp2` (plus a sticky bit below `mant`) rounded to a double.
fn round_binary(mant: u64, exp2: i64, sticky: bool) -> f64 {
    let lz = i64::from(mant.leading_zeros());
    let mant = mant << lz;
    let exp2 = exp2 - lz;
    // The value is in [2^top, 2^(top+1)).
    let top = exp2 + 63;
    if top > 1023 {
        return f64::INFINITY;
    }
    // Bits to drop: 11 for a normal double, more for a subnormal one.
    let drop = if top >= -1022 { 11 } else { 11 + (-1022 - top) };
    if drop > 64 {
        return 0.0;
    }
    let (kept, half, rest) = if drop == 64 {
        (0u64, mant >> 63 == 1, (mant << 1) != 0 || sticky)
    } else {
        let kept = mant >> drop;
        let dropped = mant & ((1u64 << drop) - 1);
        let half_bit = 1u64 << (drop - 1);
        (
            kept,
            dropped & half_bit != 0,
            (dropped & (half_bit - 1)) != 0 || sticky,
        )
    };
    let round_up = half && (rest || kept & 1 == 1);
    let kept = kept + u64::from(round_up);
    ldexp(kept as f64, exp2 + drop)
}

/// `x * 2^e`, exact while the result is representable.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    let step_up = f64::from_bits(((1023 + 1000) as u64) << 52);
    let step_down = f64::from_bits(((1023 - 1000) as u64) << 52);
    while e > 1000 {
        x *= step_up;
        e -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1000 {
        x *= step_down;
        e += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * f64::from_bits(((1023 + e) as u64) << 52)
}

/// `printf("%.<precision>g", x)` for a finite `x` (precision 1 to 17).
pub fn format_g(out: &mut Vec<u8>, x: f64, precision: usize) {
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if negative {
        out.push(b'-');
    }
    let p = p as i64;
    if exp < p && exp >= -4 {
        // Fixed notation: the same significant digits, the point moved.
        let mut body: Vec<u8> = Vec::with_capacity(digits.len() + 6);
        let split = if exp >= 0 {
            let int_len = (exp + 1) as usize;
            body.extend_from_slice(&digits[..int_len.min(digits.len())]);
            int_len
        } else {
            body.push(b'0');
            0
        };
        let mut frac: Vec<u8> = Vec::new();
        if exp < 0 {
            frac.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            frac.extend_from_slice(&digits);
        } else if split < digits.len() {
            frac.extend_from_slice(&digits[split..]);
        }
        while frac.last() == Some(&b'0') {
            frac.pop();
        }
        out.extend_from_slice(&body);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(&frac);
        }
    } else {
        let mut frac = digits.get(1..).unwrap_or(&[]).to_vec();
        while frac.last() == Some(&b'0') {
            frac.pop();
        }
        out.push(digits.first().copied().unwrap_or(b'0'));
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(&frac);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f64, p: usize) -> String {
        let mut out = Vec::new();
        format_g(&mut out, x, p);
        String::from_utf8(out).unwrap()
    }

    fn d(s: &str) -> Option<(f64, usize)> {
        strtod(s.as_bytes(), 0)
    }

    /// Outputs of glibc's `printf("%.14g")` (and other precisions).
    #[test]
    fn format_g_matches_printf() {
        let cases: &[(f64, usize, &str)] = &[
            (0.1, 14, "0.1"),
            (-0.0, 14, "-0"),
            (0.0, 14, "0"),
            (1e21, 14, "1e+21"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1.0 / 3.0, 3, "0.333"),
            (9007199254740992.0, 14, "9.007199254741e+15"),
            (5e-301, 14, "5e-301"),
            (1e300, 14, "1e+300"),
            (100000.0, 14, "100000"),
            (1e14, 14, "1e+14"),
            (12345678901234.0, 14, "12345678901234"),
            (0.0001, 14, "0.0001"),
            (0.00001, 14, "1e-05"),
            (123.456, 2, "1.2e+02"),
            (0.5, 1, "0.5"),
            (2.5, 1, "2"),
            (3.5, 1, "4"),
            (-1.7976931348623157e308, 14, "-1.7976931348623e+308"),
            (5e-324, 16, "4.940656458412465e-324"),
            (1023.2, 14, "1023.2"),
            (0.3, 16, "0.3"),
        ];
        for (x, p, want) in cases {
            assert_eq!(g(*x, *p), *want, "{x} at %.{p}g");
        }
        assert_eq!(g(0.1 + 0.2, 16), "0.3");
        assert_eq!(g(0.1 + 0.2, 17), "0.30000000000000004");
    }

    #[test]
    fn strtoll_saturates_and_stops() {
        assert_eq!(strtoll(b"123x", 0), (123, 3));
        assert_eq!(strtoll(b"-0", 0), (0, 2));
        assert_eq!(strtoll(b"99999999999999999999", 0), (i64::MAX, 20));
        assert_eq!(strtoll(b"-99999999999999999999", 0), (i64::MIN, 21));
        assert_eq!(strtoll(b"-9223372036854775808", 0), (i64::MIN, 20));
        assert_eq!(strtoll(b"-", 0), (0, 0));
        assert_eq!(strtoll(b"+5", 0), (5, 2));
    }

    #[test]
    fn strtod_reads_what_glibc_reads() {
        assert_eq!(d("1.e5"), Some((100000.0, 4)));
        assert_eq!(d("-.5"), Some((-0.5, 3)));
        assert_eq!(d("1e"), Some((1.0, 1)));
        assert_eq!(d("1e+"), Some((1.0, 1)));
        assert_eq!(d("0x10"), Some((16.0, 4)));
        assert_eq!(d("0x"), Some((0.0, 1)));
        assert_eq!(d("0x6.ffp1"), Some((13.9921875, 8)));
        assert_eq!(d("0x1p-1074"), Some((5e-324, 9)));
        assert_eq!(d("0x1p-1075"), Some((0.0, 9)));
        assert_eq!(d("0x3p-1076"), Some((5e-324, 9)));
        assert_eq!(d("0x1p1024"), Some((f64::INFINITY, 8)));
        assert_eq!(d("0x1.fffffffffffff8p0"), Some((2.0, 20)));
        assert_eq!(d("Infinity"), Some((f64::INFINITY, 8)));
        assert_eq!(d("-inf"), Some((f64::NEG_INFINITY, 4)));
        assert_eq!(d("infinit"), Some((f64::INFINITY, 3)));
        let (nan, end) = d("nan(abc_1)").unwrap();
        assert!(nan.is_nan() && end == 10);
        assert_eq!(d("nan(").map(|(_, e)| e), Some(3));
        assert_eq!(d("-"), None);
        assert_eq!(d("."), None);
        assert_eq!(d("e5"), None);
        assert_eq!(d("1e99999999999999999999"), Some((f64::INFINITY, 22)));
        assert_eq!(d("1e-99999999999999999999"), Some((0.0, 23)));
        let long = format!("0.{}1e{}", "0".repeat(70000), 70010);
        assert_eq!(d(&long).map(|(v, _)| v), Some(1e9));
        assert_eq!(
            d("2.2250738585072011e-308").map(|(v, _)| v),
            Some(2.225073858507201e-308)
        );
        assert_eq!(d("0.30000000000000004").map(|(v, _)| v), Some(0.1 + 0.2));
        assert_eq!(d("1\0"), Some((1.0, 1)));
    }
}
