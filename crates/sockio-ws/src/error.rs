//! What a peer can get wrong, and the close code each answer carries.

/// Close code 1002: the peer broke the protocol.
///
/// ```
/// assert_eq!(sockio_ws::FrameError::UnknownOpcode.close_code(), sockio_ws::CLOSE_PROTOCOL);
/// ```
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code 1007: a text message that is not UTF-8.
///
/// ```
/// assert_eq!(sockio_ws::FrameError::InvalidUtf8.close_code(), sockio_ws::CLOSE_INVALID_DATA);
/// ```
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code 1009: a message over the size limit.
///
/// ```
/// assert_eq!(sockio_ws::FrameError::TooBig.close_code(), sockio_ws::CLOSE_TOO_BIG);
/// ```
pub const CLOSE_TOO_BIG: u16 = 1009;

/// A broken rule of RFC 6455 in what the peer sent: the connection cannot go on, and
/// [`close_code`](FrameError::close_code) is the code of the close frame to answer with.
///
/// ```
/// use sockio_ws::{parse, FrameError, Parse, Role};
///
/// // An unmasked frame sent to a server.
/// let Parse::Error(e) = parse(&[0x81, 0x01, b'4'], Role::Server, 100) else { panic!() };
/// assert_eq!(e, FrameError::Unmasked);
/// assert_eq!(e.close_code(), 1002);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A reserved bit (RSV1–3) is set; no extension is ever negotiated here.
    #[error("reserved bits set (no extension was negotiated)")]
    ReservedBits,
    /// A server sent a masked frame.
    #[error("a masked frame from the server")]
    Masked,
    /// A client sent a frame not masked.
    #[error("an unmasked frame from the client")]
    Unmasked,
    /// A control frame fragmented, or longer than 125 bytes.
    #[error("a fragmented or oversized control frame")]
    BadControl,
    /// A message (one frame or its fragments together) over the size limit.
    #[error("a message over the maximum size")]
    TooBig,
    /// An opcode RFC 6455 does not define.
    #[error("an unknown opcode")]
    UnknownOpcode,
    /// A continuation frame while no fragmented message is under way.
    #[error("a continuation frame with no message begun")]
    StrayContinuation,
    /// A text or binary frame while a fragmented message is under way.
    #[error("a new message began before the fragmented one ended")]
    Interleaved,
    /// A text message that is not UTF-8.
    #[error("a text message not in UTF-8")]
    InvalidUtf8,
}

impl FrameError {
    /// The code of the close frame that answers this: 1009 for [`FrameError::TooBig`],
    /// 1007 for [`FrameError::InvalidUtf8`], 1002 for the rest.
    ///
    /// ```
    /// use sockio_ws::FrameError;
    /// assert_eq!(FrameError::TooBig.close_code(), 1009);
    /// assert_eq!(FrameError::InvalidUtf8.close_code(), 1007);
    /// assert_eq!(FrameError::ReservedBits.close_code(), 1002);
    /// ```
    pub const fn close_code(self) -> u16 {
        match self {
            FrameError::TooBig => CLOSE_TOO_BIG,
            FrameError::InvalidUtf8 => CLOSE_INVALID_DATA,
            _ => CLOSE_PROTOCOL,
        }
    }
}
