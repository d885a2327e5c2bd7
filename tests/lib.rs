//! The README's Rust snippets, compiled as doc tests (the tests themselves are the `e2e`
//! and `interop` targets).
#![doc = include_str!("../README.md")]
