//! The Engine.IO protocol of one session as a pure state machine: no tasks, no timers,
//! no I/O. Time is an input (`now: Instant`), and every input returns what the caller
//! must do; the tokio tasks of this crate (polling requests, the session task, the
//! upgrade probe) only move bytes and call these methods — in the manner of quinn-proto
//! or tungstenite.
//!
//! [`SessionState`] is the whole state of a session:
//!
//! | input | method | result |
//! | --- | --- | --- |
//! | a request: revision, transport, may it open a session | [`target`], [`check_handshake`], [`check_version`] | `Result<_, RequestError>` |
//! | a request with a session id | [`SessionState::check_request`] | `Result<(), RequestError>` |
//! | handshake | [`SessionState::new`], [`open_payload`] | the state, heartbeat armed; the `open` packet |
//! | a packet from the client | [`SessionState::handle_packet`] | [`Action`] |
//! | an undecodable packet | [`SessionState::handle_parse_error`] | [`Action`] |
//! | the deadline of [`SessionState::poll_timeout`] passed | [`SessionState::handle_timeout`] | [`Action`] |
//! | the application sends | [`SessionState::push`] | [`Push`] |
//! | either side closes | [`SessionState::close`] | [`Closed`], once |
//! | the queue passed its bound | [`SessionState::close_overflowed`] | [`Closed`], once |
//! | a polling GET arrives / can be answered / is dropped | [`SessionState::get_begin`] / [`SessionState::poll_get`] / [`SessionState::get_aborted`] | [`GetStart`] / [`Reply`] / [`Closed`] |
//! | a polling POST arrives / ends | [`SessionState::post_begin`] / [`SessionState::post_end`] | [`PostStart`] |
//! | a WebSocket request for the session | [`SessionState::upgrade_request`], [`SessionState::probe_begin`] | [`UpgradeRequest`] |
//! | a packet on the probe WebSocket | [`SessionState::handle_probe_packet`] | [`ProbeStep`] |
//! | the probe fails or is abandoned | [`SessionState::probe_failed`], [`SessionState::probe_abandoned`] | — |
//! | the WebSocket writer takes its next batch | [`SessionState::poll_ws_transmit`] | [`WsRound`] |
//!
//! Outgoing packets wait in the state's queue whichever transport carries them; the
//! caller takes them with [`SessionState::poll_get`] (polling) or
//! [`SessionState::poll_ws_transmit`] (WebSocket) when told to flush.
//!
//! The client side of the protocol mirrors this shape (the same inputs, the roles of ping
//! and pong swapped), so a client can be written the same way.

mod handshake;
mod heartbeat;
mod session;

pub(crate) use handshake::{check_handshake, check_version, open_payload, target};

pub use session::TransportKind;
pub(crate) use session::{
    Action, Closed, FinalPacket, GetStart, PollingFormat, PostStart, ProbeStep, Push, Reply,
    SessionState, UpgradeRequest, WsRound,
};
