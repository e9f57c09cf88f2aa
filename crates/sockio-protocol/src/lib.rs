//! Sans-IO codecs for the Socket.IO stack.
//!
//! This crate turns bytes into packets and packets into bytes, nothing else: no sockets,
//! no runtime, no clocks. It has two layers, one module each:
//!
//! * [`engine`]: Engine.IO packets and payloads, protocol revisions 4 (current) and 3
//!   (used by socket.io-client 2.x) — the WebSocket frame form, the long-polling payload
//!   forms (`\x1e`-separated, `len:`-prefixed, XHR2 binary, JSONP).
//! * [`socket`]: Socket.IO packets (protocol v5, and the v4 dialect spoken over Engine.IO v3)
//!   with binary attachments.

mod json_string;

pub mod engine;
pub mod urlencoded;
mod utf8;

pub use utf8::Utf8Bytes;
pub mod socket;
