//! skynet's own small hashes: `hashkey` (two 32-bit string hashes side by
//! side), `hmac64` (one MD5 block over two 64-bit values, unpadded, its
//! state folded to 64 bits), `hmac64_md5` (real MD5 of the two values three
//! times, folded) and `hmac_hash` (hmac64 of a key and a string's hashkey).

use md5::{Digest, Md5};

/// The 8-byte key skynet derives from a string: a DJB hash in the first
/// four bytes, a JS hash in the last four, both little-endian.
pub fn hashkey(text: &[u8]) -> [u8; 8] {
    let mut djb: u32 = 5381;
    let mut js: u32 = 1_315_423_911;
    for &c in text {
        let c = u32::from(c);
        djb = djb.wrapping_add((djb << 5).wrapping_add(c));
        js ^= (js << 5).wrapping_add(c).wrapping_add(js >> 2);
    }
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&djb.to_le_bytes());
    out[4..].copy_from_slice(&js.to_le_bytes());
    out
}

/// MD5's per-step additive constants (from the sines of 1..=64).
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// MD5's rotation amounts, four per round.
const S: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// MD5's starting state.
const IV: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/// The 64 steps of MD5 over one block of words, from the standard starting
/// state, *without* adding that state back at the end (hmac64 folds the
/// bare result).
fn md5_steps(w: &[u32; 16]) -> [u32; 4] {
    let [mut a, mut b, mut c, mut d] = IV;
    for i in 0..64 {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let sum = a.wrapping_add(f).wrapping_add(K[i]).wrapping_add(w[g]);
        let next_b = b.wrapping_add(sum.rotate_left(S[i / 16][i % 4]));
        a = d;
        d = c;
        c = b;
        b = next_b;
    }
    [a, b, c, d]
}

fn words(v: &[u8; 8]) -> [u32; 2] {
    [
        u32::from_le_bytes([v[0], v[1], v[2], v[3]]),
        u32::from_le_bytes([v[4], v[5], v[6], v[7]]),
    ]
}

fn qword(lo: u32, hi: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&lo.to_le_bytes());
    out[4..].copy_from_slice(&hi.to_le_bytes());
    out
}

/// `crypt.hmac64(x, y)`.
pub fn hmac64(x: &[u8; 8], y: &[u8; 8]) -> [u8; 8] {
    let (x, y) = (words(x), words(y));
    let mut w = [0u32; 16];
    for q in w.chunks_exact_mut(4) {
        q.copy_from_slice(&[x[1], x[0], y[1], y[0]]);
    }
    let r = md5_steps(&w);
    qword(r[2] ^ r[3], r[0] ^ r[1])
}

/// `crypt.hmac64_md5(x, y)`: the MD5 of `x..y` three times, its two halves
/// xored.
pub fn hmac64_md5(x: &[u8; 8], y: &[u8; 8]) -> [u8; 8] {
    let mut h = Md5::new();
    for _ in 0..3 {
        h.update(x);
        h.update(y);
    }
    let m = h.finalize();
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        *o = m[i] ^ m[i + 8];
    }
    out
}

/// `crypt.hmac_hash(key, text)`: hmac64 of `text`'s hashkey and `key`.
pub fn hmac_hash(key: &[u8; 8], text: &[u8]) -> [u8; 8] {
    hmac64(&hashkey(text), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Computed with skynet's own lua-crypt.c.
    #[test]
    fn known_answers_from_skynet() {
        assert_eq!(hex(&hashkey(b"")), "05150000a7c6674e");
        assert_eq!(hex(&hashkey(b"hello")), "9930920fcbef1867");
        assert_eq!(hex(&hashkey(b"\xff\x00\x80abc")), "4a57fa5a315dbcf2");
        assert_eq!(hex(&hashkey(b"12")), "c8705900c443a8a4");
        assert_eq!(hex(&hmac64(b"12345678", b"abcdefgh")), "ac9ffda9547a027a");
        assert_eq!(hex(&hmac64(&[0; 8], &[0xff; 8])), "d7be872098dacfba");
        assert_eq!(
            hex(&hmac64_md5(b"12345678", b"abcdefgh")),
            "c2a34748cf834af4"
        );
        assert_eq!(
            hex(&hmac_hash(b"12345678", b"some text")),
            "b9e369d840f4af26"
        );
        assert_eq!(hex(&hmac_hash(b"abcdefgh", b"")), "b7b636d6c57f5d48");
    }
}
