//! The zero-packing of sproto messages: each 8-byte word becomes a bitmap
//! of its non-zero bytes followed by those bytes; runs of dense words are
//! copied raw after a `0xff` mark and a count.

use crate::wire::{too_large, MAX_SIZE};

/// The largest packed size of `n` bytes (2 bytes of overhead per 2 KiB,
/// plus 2), as skynet sizes its output buffer.
pub fn max_packed(n: usize) -> usize {
    n.div_ceil(2048) * 2 + n + 2
}

/// Packs `src`. `tick` is called once per 1024 words.
pub fn pack(src: &[u8], tick: &mut dyn FnMut() -> Result<(), String>) -> Result<Vec<u8>, String> {
    if max_packed(src.len()) > MAX_SIZE {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(max_packed(src.len()));
    // The raw run being gathered: where its words start in `src`, and how
    // many words it has.
    let mut run_start = 0usize;
    let mut run_len = 0usize;
    let flush = |out: &mut Vec<u8>, start: usize, len: usize| {
        out.push(0xff);
        out.push((len - 1) as u8);
        for i in 0..len * 8 {
            out.push(src.get(start + i).copied().unwrap_or(0));
        }
    };
    for (n, at) in (0..src.len()).step_by(8).enumerate() {
        if n % 1024 == 1023 {
            tick()?;
        }
        let mut w = [0u8; 8];
        let end = (at + 8).min(src.len());
        w[..end - at].copy_from_slice(&src[at..end]);
        let dense = w.iter().filter(|b| **b != 0).count();
        if run_len > 0 && dense >= 6 {
            run_len += 1;
            if run_len == 256 {
                flush(&mut out, run_start, run_len);
                run_len = 0;
            }
            continue;
        }
        if run_len > 0 {
            flush(&mut out, run_start, run_len);
            run_len = 0;
        }
        if dense == 8 {
            run_start = at;
            run_len = 1;
            continue;
        }
        let mut bits = 0u8;
        for (i, b) in w.iter().enumerate() {
            if *b != 0 {
                bits |= 1 << i;
            }
        }
        out.push(bits);
        out.extend(w.iter().filter(|b| **b != 0));
    }
    if run_len > 0 {
        flush(&mut out, run_start, run_len);
    }
    Ok(out)
}

/// The size `src` unpacks to, or an error if it is not a packed stream.
fn unpacked_len(src: &[u8]) -> Result<usize, String> {
    let bad = || "Invalid unpack stream".to_string();
    let mut i = 0usize;
    let mut size = 0usize;
    while i < src.len() {
        let head = src[i];
        i += 1;
        if head == 0xff {
            let Some(&n) = src.get(i) else {
                return Err(bad());
            };
            let n = (usize::from(n) + 1) * 8;
            if src.len() - i < n + 1 {
                return Err(bad());
            }
            i += n + 1;
            size += n;
        } else {
            let nz = head.count_ones() as usize;
            if src.len() - i < nz {
                return Err(bad());
            }
            i += nz;
            size += 8;
        }
    }
    Ok(size)
}

/// Unpacks `src`: an error for a malformed stream, or for one that would
/// unpack past [`MAX_SIZE`]. `tick` is called once per 1024 words.
pub fn unpack(src: &[u8], tick: &mut dyn FnMut() -> Result<(), String>) -> Result<Vec<u8>, String> {
    let size = unpacked_len(src)?;
    if size > MAX_SIZE {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(size);
    let mut i = 0usize;
    let mut words = 0usize;
    while i < src.len() {
        words += 1;
        if words.is_multiple_of(1024) {
            tick()?;
        }
        let head = src[i];
        i += 1;
        if head == 0xff {
            let n = (usize::from(src[i]) + 1) * 8;
            out.extend_from_slice(&src[i + 1..i + 1 + n]);
            i += n + 1;
        } else {
            for bit in 0..8 {
                if head & (1 << bit) != 0 {
                    out.push(src[i]);
                    i += 1;
                } else {
                    out.push(0);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> impl FnMut() -> Result<(), String> {
        || Ok(())
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex"))
            .collect()
    }

    #[test]
    fn the_readme_examples() {
        let src = hex("08 00 00 00 03 00 02 00 19 00 00 00 aa 01 00 00");
        assert_eq!(
            pack(&src, &mut none()).unwrap(),
            hex("51 08 03 02 31 19 aa 01")
        );
        let src = vec![0x8a; 30];
        let mut want = vec![0xff, 0x03];
        want.extend(vec![0x8a; 30]);
        want.extend([0, 0]);
        assert_eq!(pack(&src, &mut none()).unwrap(), want);
    }

    #[test]
    fn round_trip_pads_to_words() {
        let src = b"hello, sproto".to_vec();
        let packed = pack(&src, &mut none()).unwrap();
        let back = unpack(&packed, &mut none()).unwrap();
        assert_eq!(&back[..src.len()], &src[..]);
        assert_eq!(back.len() % 8, 0);
    }

    #[test]
    fn truncated_streams_are_refused() {
        for bad in [&[0xffu8][..], &[0xff, 0x00, 1, 2], &[0x03, 1]] {
            assert_eq!(
                unpack(bad, &mut none()).unwrap_err(),
                "Invalid unpack stream"
            );
        }
    }
}
