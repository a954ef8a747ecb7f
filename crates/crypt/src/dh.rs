//! skynet's Diffie-Hellman over the largest 64-bit prime, generator 5:
//! `dhexchange(x)` = 5^x mod P, `dhsecret(y, x)` = y^x mod P, each value
//! 8 bytes little-endian. (A 64-bit group is not secure against a patient
//! attacker; skynet's login example uses it only to agree a DES key.)

/// 2^64 - 59, the largest prime below 2^64.
pub const P: u64 = 0xffff_ffff_ffff_ffc5;

/// The generator `dhexchange` raises.
pub const G: u64 = 5;

fn mul_mod(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(P)) as u64
}

/// `base^exp mod P` as skynet computes it: a base above P is reduced first
/// (P itself is not), and an exponent of 1 gives that base back unchanged.
/// `exp` must not be 0 (skynet refuses it before getting here).
pub fn powmodp(base: u64, exp: u64) -> u64 {
    let base = if base > P { base % P } else { base };
    if exp == 1 {
        return base;
    }
    let mut result = 1u64;
    for bit in (0..64 - exp.leading_zeros()).rev() {
        result = mul_mod(result, result);
        if exp >> bit & 1 == 1 {
            result = mul_mod(result, base);
        }
    }
    result
}

fn read(v: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*v)
}

/// `crypt.dhexchange(x)`.
pub fn exchange(x: &[u8; 8]) -> Result<[u8; 8], String> {
    match read(x) {
        0 => Err("Can't be 0".to_string()),
        x => Ok(powmodp(G, x).to_le_bytes()),
    }
}

/// `crypt.dhsecret(y, x)`.
pub fn secret(y: &[u8; 8], x: &[u8; 8]) -> Result<[u8; 8], String> {
    match (read(y), read(x)) {
        (0, _) | (_, 0) => Err("Can't be 0".to_string()),
        (y, x) => Ok(powmodp(y, x).to_le_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Computed with skynet's own lua-crypt.c.
    #[test]
    fn known_answers_from_skynet() {
        assert_eq!(hex(&exchange(b"12345678").unwrap()), "a18e89af97222f0e");
        assert_eq!(
            hex(&exchange(&[1, 0, 0, 0, 0, 0, 0, 0]).unwrap()),
            "0500000000000000"
        );
        assert_eq!(hex(&exchange(&[0xff; 8]).unwrap()), "4e2ea6baf651b377");
        assert_eq!(
            hex(&secret(b"12345678", b"abcdefgh").unwrap()),
            "c28f6c29ade90908"
        );
        let p = P.to_le_bytes();
        assert_eq!(
            hex(&secret(&p, &[1, 0, 0, 0, 0, 0, 0, 0]).unwrap()),
            "c5ffffffffffffff"
        );
        assert_eq!(
            hex(&secret(&p, &[2, 0, 0, 0, 0, 0, 0, 0]).unwrap()),
            "0000000000000000"
        );
        assert_eq!(
            hex(&secret(&[0xff; 8], &[3, 0, 0, 0, 0, 0, 0, 0]).unwrap()),
            "28fa020000000000"
        );
        let (a, b) = (
            exchange(b"12345678").unwrap(),
            exchange(b"abcdefgh").unwrap(),
        );
        assert_eq!(hex(&secret(&a, b"abcdefgh").unwrap()), "fab8e4dca970e431");
        assert_eq!(hex(&secret(&b, b"12345678").unwrap()), "fab8e4dca970e431");
        assert_eq!(exchange(&[0; 8]).unwrap_err(), "Can't be 0");
        assert_eq!(secret(&[0; 8], b"12345678").unwrap_err(), "Can't be 0");
    }

    proptest! {
        #[test]
        fn both_sides_agree(x in 1u64.., y in 1u64..) {
            let (gx, gy) = (exchange(&x.to_le_bytes()).unwrap(), exchange(&y.to_le_bytes()).unwrap());
            prop_assert_eq!(secret(&gx, &y.to_le_bytes()).unwrap(), secret(&gy, &x.to_le_bytes()).unwrap());
        }
    }
}
