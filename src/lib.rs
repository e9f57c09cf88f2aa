//! # sockio
//!
//! Socket.IO for Rust, wire-compatible with the whole Socket.IO ecosystem.
//!
//! This crate gathers the layers, each its own crate:
//!
//! * [`protocol`] (`sockio-protocol`): sans-IO codecs of Engine.IO and Socket.IO packets.
//! * [`engine`] (`sockio-engine`): the Engine.IO server — long-polling, WebSocket, upgrade,
//!   heartbeats — as a tower service over hyper 1.
//! * [`server`] (`sockio-server`): the Socket.IO server — namespaces, middlewares, events,
//!   acknowledgements, rooms, broadcasts.

pub use sockio_engine as engine;
pub use sockio_protocol as protocol;
pub use sockio_server as server;

// The README's examples are compiled as doctests, so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
