#![forbid(unsafe_code)]
//! skyhold
fn main() {}
