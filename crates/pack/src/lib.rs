//! skynet's `skynet.pack` byte format ("lua-seri"), byte for byte, with a
//! decoder that is safe on hostile input.
//!
//! A message is the concatenation of the encodings of its values, with no
//! count and no header. Every value starts with one tag byte,
//! `type | cookie << 3`; multi-byte numbers are little-endian.
//!
//! - [`write`]: primitive encoders on a `Vec<u8>`, for hosts (the Lua host)
//!   that walk their own values;
//! - [`pack`]: encodes a [`Value`] tree, with skynet's depth rule;
//! - [`unpack_with`]: decodes through a [`Builder`], so a host builds its own
//!   values directly with no intermediate tree;
//! - [`unpack`]: decodes into a [`Value`] tree.
//!
//! The decoder trusts nothing it reads. It is iterative (hostile nesting
//! cannot exhaust the stack) and limited in depth ([`Limits`]). A declared
//! string or array length is checked against the bytes that remain before
//! anything is allocated. The USERDATA tag, which skynet turns into a raw
//! pointer, is refused. Every failure is a [`DecodeError`] whose message
//! starts with `Invalid serialize stream` and gives the byte offset.
#![forbid(unsafe_code)]

mod decode;
#[doc(hidden)]
pub mod recorder;
mod tag;
mod value;
pub mod write;

pub use decode::{unpack, unpack_limited, unpack_with, Builder, DecodeError, Limits};
pub use value::{pack, PackError, Table, Value, MAX_PACK_DEPTH};
