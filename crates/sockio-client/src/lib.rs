//! # sockio-client
//!
//! A Socket.IO client for Rust.
#![warn(missing_docs)]

pub mod engine;
