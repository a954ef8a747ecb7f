//! Little-endian reads of the sproto wire format. Callers check bounds
//! before reading.

/// The 16-bit little-endian word at `at`.
pub(crate) fn word(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The 32-bit little-endian word at `at`.
pub(crate) fn dword(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Sign-extends a 32-bit value read from the wire.
pub(crate) fn expand64(v: u32) -> u64 {
    v as i32 as i64 as u64
}

/// The largest message `encode`, `pack` and `unpack` make (16 MiB), and the
/// error past it.
pub const MAX_SIZE: usize = 0x100_0000;

/// The error a message past [`MAX_SIZE`] raises.
pub fn too_large() -> String {
    format!("object is too large (>{MAX_SIZE})")
}
