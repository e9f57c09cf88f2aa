//! Frames turned into messages: fragments joined, text checked, limits applied.

use bytes::Bytes;
use sockio_protocol::Utf8Bytes;

use crate::error::{FrameError, CLOSE_PROTOCOL};
use crate::frame::Frame;
use crate::opcode;

/// A whole data message.
///
/// ```
/// use sockio_ws::{parse, Event, Message, Parse, Reassembler, Role};
/// let Parse::Frame(f) = parse(&[0x82, 0x01, 7], Role::Client, 100) else { panic!() };
/// let event = Reassembler::new().push(&f, 100);
/// assert_eq!(event, Ok(Some(Event::Message(Message::Binary(vec![7].into())))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, checked as UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// What a frame meant, when it meant more than a fragment kept for later.
///
/// ```
/// use sockio_ws::{parse, Event, Parse, Reassembler, Role};
/// // A close frame with code 1001, as a client reads it: answered with 1001.
/// let Parse::Frame(f) = parse(&[0x88, 0x02, 0x03, 0xe9], Role::Client, 100) else { panic!() };
/// assert_eq!(Reassembler::new().push(&f, 100), Ok(Some(Event::Close(Some(1001)))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A data message, whole.
    Message(Message),
    /// A ping: to answer with a pong carrying this payload.
    Ping(Bytes),
    /// A pong (nothing to do).
    Pong,
    /// The peer's close frame. To answer with a close frame of its own carrying this
    /// code ([`close_answer`] of the peer's payload), or an empty one when `None`.
    Close(Option<u16>),
}

/// A message arriving in fragments: whether it is text, and its bytes so far.
#[derive(Debug)]
struct Partial {
    text: bool,
    bytes: Vec<u8>,
}

/// Turns a connection's frames, in order, into messages: fragments are joined (control
/// frames may come between them), text is checked as UTF-8 once whole, and a message
/// over the limit is refused as soon as its size is known.
///
/// Holds nothing between messages: one pointer, with a buffer only while a fragmented
/// message is under way. After an error the connection is done; the fragments kept are
/// dropped.
///
/// ```
/// use sockio_ws::{parse, write_head, Event, Message, Parse, Reassembler, Role, opcode};
///
/// // A server's fragmented text message with a ping in between, as a client reads it.
/// let mut wire = vec![0x01, 0x02, b'4', b'a'];
/// wire.extend([0x89, 0x01, b'p']);
/// wire.extend([0x80, 0x01, b'b']);
/// let (mut data, mut events) = (&wire[..], Vec::new());
/// let mut messages = Reassembler::new();
/// while let Parse::Frame(frame) = parse(data, Role::Client, 100) {
///     data = &data[frame.len..];
///     events.extend(messages.push(&frame, 100).expect("valid frames"));
/// }
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0], Event::Ping(bytes::Bytes::from_static(b"p")));
/// let Event::Message(Message::Text(text)) = &events[1] else { panic!() };
/// assert_eq!(text.as_str(), "4ab");
/// ```
#[derive(Debug, Default)]
pub struct Reassembler {
    partial: Option<Box<Partial>>,
}

impl Reassembler {
    /// Between messages.
    ///
    /// ```
    /// assert!(!sockio_ws::Reassembler::new().in_message());
    /// ```
    pub const fn new() -> Reassembler {
        Reassembler { partial: None }
    }

    /// Whether a fragmented message is under way.
    ///
    /// ```
    /// use sockio_ws::{parse, Parse, Reassembler, Role};
    /// let mut messages = Reassembler::new();
    /// let Parse::Frame(f) = parse(&[0x01, 0x01, b'4'], Role::Client, 100) else { panic!() };
    /// assert_eq!(messages.push(&f, 100), Ok(None));
    /// assert!(messages.in_message());
    /// ```
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    /// Forgets a fragmented message under way, and its buffer.
    ///
    /// ```
    /// let mut messages = sockio_ws::Reassembler::new();
    /// messages.reset();
    /// assert!(!messages.in_message());
    /// ```
    pub fn reset(&mut self) {
        self.partial = None;
    }

    /// Takes the connection's next frame (from [`parse`](crate::parse), so its head is
    /// checked already): `Ok(None)` when it was a fragment kept for later. Messages over
    /// `max_payload` bytes in all are refused.
    ///
    /// ```
    /// use sockio_ws::{parse, FrameError, Parse, Reassembler, Role};
    /// let mut messages = Reassembler::new();
    /// // A continuation with no message begun.
    /// let Parse::Frame(f) = parse(&[0x80, 0x01, b'x'], Role::Client, 100) else { panic!() };
    /// assert_eq!(messages.push(&f, 100), Err(FrameError::StrayContinuation));
    /// ```
    pub fn push(
        &mut self,
        frame: &Frame<'_>,
        max_payload: usize,
    ) -> Result<Option<Event>, FrameError> {
        let result = self.take(frame, max_payload);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn take(&mut self, frame: &Frame<'_>, max_payload: usize) -> Result<Option<Event>, FrameError> {
        match frame.opcode {
            opcode::TEXT | opcode::BINARY if self.partial.is_some() => Err(FrameError::Interleaved),
            opcode::TEXT | opcode::BINARY if frame.fin => {
                message(frame.opcode == opcode::TEXT, frame.to_bytes()).map(Some)
            }
            opcode::TEXT | opcode::BINARY => {
                let mut bytes = Vec::with_capacity(frame.payload.len());
                frame.unmask_into(&mut bytes);
                self.partial = Some(Box::new(Partial {
                    text: frame.opcode == opcode::TEXT,
                    bytes,
                }));
                Ok(None)
            }
            opcode::CONTINUATION => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(FrameError::StrayContinuation);
                };
                if partial.bytes.len() + frame.payload.len() > max_payload {
                    return Err(FrameError::TooBig);
                }
                frame.unmask_into(&mut partial.bytes);
                if !frame.fin {
                    return Ok(None);
                }
                match self.partial.take() {
                    Some(partial) => message(partial.text, Bytes::from(partial.bytes)).map(Some),
                    None => Err(FrameError::StrayContinuation),
                }
            }
            opcode::PING => Ok(Some(Event::Ping(frame.to_bytes()))),
            opcode::PONG => Ok(Some(Event::Pong)),
            opcode::CLOSE => {
                self.partial = None;
                Ok(Some(Event::Close(close_answer(&frame.to_bytes()))))
            }
            _ => Err(FrameError::UnknownOpcode),
        }
    }
}

/// A whole data message; text checked as UTF-8.
fn message(text: bool, payload: Bytes) -> Result<Event, FrameError> {
    let message = if text {
        Message::Text(Utf8Bytes::try_from_bytes(payload).map_err(|_| FrameError::InvalidUtf8)?)
    } else {
        Message::Binary(payload)
    };
    Ok(Event::Message(message))
}

/// The code to answer a close frame whose (unmasked) payload is `payload` with: the
/// peer's own when it is one an endpoint may send, none (an empty close frame) when it
/// sent none or one that may not be sent, 1002 for a 1-byte payload.
///
/// ```
/// use sockio_ws::close_answer;
/// assert_eq!(close_answer(&[0x03, 0xe8]), Some(1000));
/// assert_eq!(close_answer(&[0x0f, 0xa0, b'b', b'y', b'e']), Some(4000));
/// assert_eq!(close_answer(&[0x03, 0xed]), None); // 1005 is never sent
/// assert_eq!(close_answer(&[]), None);
/// assert_eq!(close_answer(&[0x03]), Some(1002));
/// ```
pub fn close_answer(payload: &[u8]) -> Option<u16> {
    match payload {
        [] => None,
        [a, b, ..] => Some(u16::from_be_bytes([*a, *b]))
            .filter(|c| matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)),
        [_] => Some(CLOSE_PROTOCOL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::write_frame;
    use crate::frame::{parse, Parse, Role};

    /// A client's frame (masked), as the server reads it.
    fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, op, payload, Some([7, 0, 255, 1]));
        if !fin {
            out[0] &= 0x7f;
        }
        out
    }

    /// Every frame of `data` through one reassembler: the events, or the first error.
    fn run(data: &[u8], max: usize) -> Result<Vec<Event>, FrameError> {
        let mut messages = Reassembler::new();
        let (mut data, mut events) = (data, Vec::new());
        while !data.is_empty() {
            let frame = match parse(data, Role::Server, max) {
                Parse::Frame(frame) => frame,
                Parse::Error(e) => return Err(e),
                Parse::Need(n) => panic!("incomplete: {n}"),
            };
            data = &data[frame.len..];
            match messages.push(&frame, max) {
                Ok(event) => events.extend(event),
                Err(e) => {
                    assert!(!messages.in_message(), "fragments dropped on an error");
                    return Err(e);
                }
            }
        }
        Ok(events)
    }

    fn text(s: &str) -> Event {
        Event::Message(Message::Text(Utf8Bytes::from(s)))
    }

    #[test]
    fn holds_one_pointer() {
        assert_eq!(
            std::mem::size_of::<Reassembler>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn fragments_join_with_control_frames_between() {
        let data = [
            frame(false, opcode::TEXT, b"4he"),
            frame(true, opcode::PING, b"p1"),
            frame(false, opcode::CONTINUATION, b"ll"),
            frame(true, opcode::PONG, b""),
            frame(true, opcode::CONTINUATION, "oé".as_bytes()),
            frame(false, opcode::BINARY, &[1]),
            frame(true, opcode::CONTINUATION, &[2]),
            frame(true, opcode::BINARY, &[]),
        ]
        .concat();
        assert_eq!(
            run(&data, 100),
            Ok(vec![
                Event::Ping(Bytes::from_static(b"p1")),
                Event::Pong,
                text("4helloé"),
                Event::Message(Message::Binary(Bytes::from_static(&[1, 2]))),
                Event::Message(Message::Binary(Bytes::new())),
            ])
        );
    }

    #[test]
    fn text_is_checked_whole() {
        // "é" cut in two between fragments is fine.
        let data = [
            frame(false, opcode::TEXT, &[b'4', 0xc3]),
            frame(true, 0, &[0xa9]),
        ]
        .concat();
        assert_eq!(run(&data, 100), Ok(vec![text("4é")]));
        let data = [
            frame(false, opcode::TEXT, &[b'4', 0xc3]),
            frame(true, 0, b"x"),
        ]
        .concat();
        assert_eq!(run(&data, 100), Err(FrameError::InvalidUtf8));
        assert_eq!(
            run(&frame(true, opcode::TEXT, &[0xff]), 100),
            Err(FrameError::InvalidUtf8)
        );
        // Binary is not checked.
        assert!(run(&frame(true, opcode::BINARY, &[0xff]), 100).is_ok());
    }

    #[test]
    fn broken_sequences_are_refused() {
        let fragments =
            |first: &[u8], then: Vec<u8>| [frame(false, opcode::TEXT, first), then].concat();
        let cases = [
            (
                frame(true, opcode::CONTINUATION, b"x"),
                FrameError::StrayContinuation,
            ),
            (
                fragments(b"4a", frame(true, opcode::TEXT, b"4b")),
                FrameError::Interleaved,
            ),
            (
                fragments(b"4a", frame(true, opcode::BINARY, b"")),
                FrameError::Interleaved,
            ),
            (frame(true, 0x3, b""), FrameError::UnknownOpcode),
            (frame(true, 0xB, b""), FrameError::UnknownOpcode),
            (
                fragments(b"123456", frame(true, 0, b"12345")),
                FrameError::TooBig,
            ),
        ];
        for (data, error) in cases {
            assert_eq!(run(&data, 10), Err(error), "{data:?}");
        }
        // Fragments adding up to exactly the limit are fine.
        let data = fragments(b"12345", frame(true, 0, b"67890"));
        assert_eq!(run(&data, 10), Ok(vec![text("1234567890")]));
    }

    #[test]
    fn a_close_drops_a_message_under_way_and_gives_the_answer() {
        let mut messages = Reassembler::new();
        for (data, answer) in [
            (frame(false, opcode::TEXT, b"4"), None),
            (
                frame(true, opcode::CLOSE, &[0x0f, 0xa0, b'b']),
                Some(Some(4000)),
            ),
            (frame(true, opcode::CLOSE, &[0x03]), Some(Some(1002))),
            (frame(true, opcode::CLOSE, &[0x03, 0xee]), Some(None)),
        ] {
            let Parse::Frame(f) = parse(&data, Role::Server, 100) else {
                panic!()
            };
            assert_eq!(messages.push(&f, 100), Ok(answer.map(Event::Close)));
        }
        assert!(!messages.in_message());
    }
}
