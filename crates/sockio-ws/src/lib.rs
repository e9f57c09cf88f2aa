//! RFC 6455 WebSocket framing without I/O: the part of a WebSocket that both ends of a
//! sockio connection share, the server's (`sockio-engine`) and the client's
//! (`sockio-client`).
//!
//! Nothing here reads or writes: each side keeps its own socket, read policy and write
//! queue, and asks this crate what the bytes mean.
//!
//! * [`parse`] looks at the start of a byte slice and says whether a whole frame is
//!   there ([`Parse::Frame`]), how many bytes it needs first ([`Parse::Need`]), or which
//!   rule the peer broke ([`Parse::Error`], with its close code).
//! * [`Frame`] borrows the payload from that slice and unmasks it only when it is copied
//!   out ([`Frame::to_bytes`], [`Frame::unmask_into`]).
//! * [`Reassembler`] turns frames into messages: fragments joined (control frames may
//!   come between them), text checked as UTF-8, the size limit applied, and the pings
//!   and closes to answer reported.
//! * [`Pending`] holds what a reader read and could not use yet (a frame not arrived
//!   whole), and nothing once it is used.
//! * [`write_head`] and [`write_frame`] encode frames for either role: unmasked from a
//!   server, masked with a key the caller picks from a client.
//!
//! ```
//! use sockio_ws::{parse, write_frame, Event, Message, Parse, Reassembler, Role, opcode};
//!
//! // A client's masked text frame, as a server reads it.
//! let mut wire = Vec::new();
//! write_frame(&mut wire, opcode::TEXT, b"4hello", Some([1, 2, 3, 4]));
//! let mut messages = Reassembler::new();
//! let Parse::Frame(frame) = parse(&wire, Role::Server, 1 << 20) else {
//!     panic!("a whole frame");
//! };
//! assert_eq!(frame.len, wire.len());
//! match messages.push(&frame, 1 << 20) {
//!     Ok(Some(Event::Message(Message::Text(text)))) => assert_eq!(text.as_str(), "4hello"),
//!     other => panic!("{other:?}"),
//! }
//! ```

mod encode;
mod error;
mod frame;
mod message;
pub mod opcode;
mod pending;

pub use encode::{write_frame, write_head};
pub use error::{FrameError, CLOSE_INVALID_DATA, CLOSE_PROTOCOL, CLOSE_TOO_BIG};
pub use frame::{apply_mask, parse, Frame, Parse, Role};
pub use message::{close_answer, Event, Message, Reassembler};
pub use pending::Pending;
