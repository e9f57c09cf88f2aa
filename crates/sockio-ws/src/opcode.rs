//! Frame opcodes (RFC 6455 §5.2). [`parse`](crate::parse) hands any opcode on as it came;
//! [`Reassembler::push`](crate::Reassembler::push) refuses those not listed here.
//!
//! ```
//! assert!(sockio_ws::opcode::is_control(sockio_ws::opcode::PING));
//! assert!(!sockio_ws::opcode::is_control(sockio_ws::opcode::TEXT));
//! ```

/// A fragment after the first of a message.
pub const CONTINUATION: u8 = 0x0;
/// A text message (UTF-8), or its first fragment.
pub const TEXT: u8 = 0x1;
/// A binary message, or its first fragment.
pub const BINARY: u8 = 0x2;
/// A close frame: an optional 2-byte code and a reason.
pub const CLOSE: u8 = 0x8;
/// A ping, to be answered by a pong with the same payload.
pub const PING: u8 = 0x9;
/// A pong.
pub const PONG: u8 = 0xA;

/// Whether `opcode` is a control frame's (close, ping, pong and the reserved 0xB–0xF):
/// never fragmented, at most 125 bytes, allowed between a message's fragments.
///
/// ```
/// use sockio_ws::opcode;
/// assert!(opcode::is_control(opcode::CLOSE));
/// assert!(!opcode::is_control(opcode::CONTINUATION));
/// ```
pub const fn is_control(opcode: u8) -> bool {
    opcode >= 0x8
}
