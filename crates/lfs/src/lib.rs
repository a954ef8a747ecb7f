//! lfs
