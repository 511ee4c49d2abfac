//! Engines the harness compares with the oracle: the Rust patchers and foreign
//! ones behind the C engine ABI.

pub mod ffi;
