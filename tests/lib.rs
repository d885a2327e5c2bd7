//! The Rust snippets of the README and of `docs/`, compiled as doc tests (the tests
//! themselves are the `e2e`, `interop` and `ops` targets). `tests/ops/docs.rs` checks that
//! every Markdown file with a Rust block is included here.
#![doc = include_str!("../README.md")]

#[doc = include_str!("../docs/scheduling.md")]
pub mod scheduling_md {}

#[doc = include_str!("../docs/library.md")]
pub mod library_md {}
