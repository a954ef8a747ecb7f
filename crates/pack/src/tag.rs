//! Tag bytes: `type | cookie << 3`.

pub(crate) const TYPE_NIL: u8 = 0;
pub(crate) const TYPE_BOOLEAN: u8 = 1;
pub(crate) const TYPE_NUMBER: u8 = 2;
pub(crate) const TYPE_USERDATA: u8 = 3;
pub(crate) const TYPE_SHORT_STRING: u8 = 4;
pub(crate) const TYPE_LONG_STRING: u8 = 5;
pub(crate) const TYPE_TABLE: u8 = 6;

/// NUMBER cookies.
pub(crate) const NUMBER_ZERO: u8 = 0;
pub(crate) const NUMBER_BYTE: u8 = 1;
pub(crate) const NUMBER_WORD: u8 = 2;
pub(crate) const NUMBER_DWORD: u8 = 4;
pub(crate) const NUMBER_QWORD: u8 = 6;
pub(crate) const NUMBER_REAL: u8 = 8;

/// LONG_STRING cookies: the size of the length field.
pub(crate) const LONG_STRING_U16: u8 = 2;
pub(crate) const LONG_STRING_U32: u8 = 4;

/// Longest string written in the short form (the length is the cookie).
pub(crate) const MAX_SHORT_STRING: usize = 31;

/// Largest array length written in the table tag itself; the cookie 31
/// means "an integer NUMBER with the length follows".
pub(crate) const MAX_INLINE_ARRAY: usize = 30;
pub(crate) const ARRAY_LEN_FOLLOWS: u8 = 31;

/// The tag byte for `ty` with `cookie` (`cookie` < 32).
pub(crate) const fn make(ty: u8, cookie: u8) -> u8 {
    ty | (cookie << 3)
}

/// The type (low 3 bits) of a tag byte.
pub(crate) const fn type_of(tag: u8) -> u8 {
    tag & 7
}

/// The cookie (high 5 bits) of a tag byte.
pub(crate) const fn cookie_of(tag: u8) -> u8 {
    tag >> 3
}
