//! The bytes a reader keeps between two reads.

use crate::frame::{parse, Parse, Role};

/// Bytes read and not used yet, kept by a reader between two reads of its connection:
/// the start of a frame that has not arrived whole, and whatever came after the frame a
/// read stopped at. Everything used, it holds no allocation, so an idle connection keeps
/// nothing here.
///
/// The reader does its own I/O: it parses what is kept with [`Pending::parse`], marks
/// what a frame used with [`Pending::consume`] and, when the first frame is incomplete,
/// reads more into the room [`Pending::read_into`] gives.
///
/// ```
/// use sockio_ws::{write_frame, opcode, Parse, Pending, Role};
///
/// let mut wire = Vec::new();
/// write_frame(&mut wire, opcode::TEXT, b"4hello", Some([1, 2, 3, 4]));
///
/// // A read brought the first three bytes: kept, with room for the frame's length.
/// let mut pending = Pending::new();
/// pending.keep(&wire[..3], 14);
/// let Parse::Need(needed) = pending.parse(Role::Server, 1 << 20) else { panic!() };
/// // The next read lands after them.
/// let (n, ()) = pending.read_into(needed, 16, |room| {
///     let rest = &wire[3..];
///     room[..rest.len()].copy_from_slice(rest);
///     (rest.len(), ())
/// });
/// assert_eq!(n, wire.len() - 3);
/// let Parse::Frame(frame) = pending.parse(Role::Server, 1 << 20) else { panic!() };
/// assert_eq!(frame.to_bytes().as_ref(), b"4hello");
/// let len = frame.len;
/// pending.consume(len);
/// assert!(pending.is_empty());
/// assert_eq!(pending.capacity(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Pending {
    buf: Vec<u8>,
    /// Where the bytes not used yet start in `buf`.
    pos: usize,
}

impl Pending {
    /// Nothing kept, nothing allocated.
    pub const fn new() -> Pending {
        Pending {
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Whether every byte kept has been used.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes allocated (0 whenever nothing is kept).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Keeps `rest` in place of what was kept (nothing, when a reader calls this: it
    /// reads into its own buffer only while this one is empty), with room for `needed`
    /// bytes in all — a frame's whole length when [`Parse::Need`] gave it. Nothing is
    /// allocated for an empty `rest`.
    pub fn keep(&mut self, rest: &[u8], needed: usize) {
        if rest.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(needed.max(rest.len()));
        buf.extend_from_slice(rest);
        self.buf = buf;
        self.pos = 0;
    }

    /// The first frame kept, as [`parse`] reads it.
    pub fn parse(&self, role: Role, max_payload: usize) -> Parse<'_> {
        parse(&self.buf[self.pos..], role, max_payload)
    }

    /// Marks `n` bytes used (a frame's [`len`](crate::Frame::len)); once all are, the
    /// buffer is freed.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.clear();
        }
    }

    /// Forgets what is kept and frees its buffer (a reader that stops reading: an
    /// error, a close).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
    }

    /// Reads more after the bytes kept: moves them to the start of the buffer, grows it
    /// to hold `needed` bytes in all and at least `min_read` more, and hands the free part
    /// to `read`, which returns how many bytes it put there (only those are kept) and what
    /// the caller wants back.
    pub fn read_into<R>(
        &mut self,
        needed: usize,
        min_read: usize,
        read: impl FnOnce(&mut [u8]) -> (usize, R),
    ) -> (usize, R) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let have = self.buf.len();
        self.buf.resize(needed.max(have + min_read), 0);
        let (n, out) = read(&mut self.buf[have..]);
        let n = n.min(self.buf.len() - have);
        self.buf.truncate(have + n);
        (n, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{opcode, write_frame};

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for p in payloads {
            write_frame(&mut wire, opcode::BINARY, p, Some([9, 8, 7, 6]));
        }
        wire
    }

    #[test]
    fn empty_rest_allocates_nothing() {
        let mut pending = Pending::new();
        pending.keep(&[], 100);
        assert!(pending.is_empty());
        assert_eq!(pending.capacity(), 0);
    }

    #[test]
    fn frames_kept_are_used_in_order_then_freed() {
        let wire = frames(&[b"one", b"two"]);
        let mut pending = Pending::new();
        pending.keep(&wire, 0);
        for want in [&b"one"[..], b"two"] {
            let Parse::Frame(frame) = pending.parse(Role::Server, 100) else {
                panic!("a whole frame");
            };
            assert_eq!(frame.to_bytes().as_ref(), want);
            let len = frame.len;
            pending.consume(len);
        }
        assert!(pending.is_empty());
        assert_eq!(pending.capacity(), 0);
    }

    #[test]
    fn a_frame_arriving_byte_by_byte() {
        let wire = frames(&[&[7u8; 300]]);
        let mut pending = Pending::new();
        pending.keep(&wire[..1], 0);
        let mut fed = 1;
        loop {
            match pending.parse(Role::Server, 1000) {
                Parse::Frame(frame) => {
                    assert_eq!(frame.to_bytes().as_ref(), &[7u8; 300][..]);
                    break;
                }
                Parse::Need(needed) => {
                    assert!(needed > fed);
                    let (n, ()) = pending.read_into(needed, 1, |room| {
                        room[0] = wire[fed];
                        (1, ())
                    });
                    assert_eq!(n, 1);
                    fed += 1;
                }
                Parse::Error(e) => panic!("{e}"),
            }
        }
        assert_eq!(fed, wire.len());
    }

    #[test]
    fn used_bytes_move_out_before_a_read() {
        let wire = frames(&[b"first", b"second"]);
        let split = wire.len() - 3;
        let mut pending = Pending::new();
        pending.keep(&wire[..split], 0);
        let Parse::Frame(frame) = pending.parse(Role::Server, 100) else {
            panic!("a whole frame");
        };
        let len = frame.len;
        pending.consume(len);
        let Parse::Need(needed) = pending.parse(Role::Server, 100) else {
            panic!("the second frame is not whole");
        };
        // A read that claims more than the room it was given keeps only the room.
        let (n, ()) = pending.read_into(needed, 0, |room| {
            room.copy_from_slice(&wire[split..split + room.len()]);
            (room.len() + 10, ())
        });
        assert_eq!(n, 3);
        let Parse::Frame(frame) = pending.parse(Role::Server, 100) else {
            panic!("a whole frame");
        };
        assert_eq!(frame.to_bytes().as_ref(), b"second");
        pending.clear();
        assert!(pending.is_empty());
        assert_eq!(pending.capacity(), 0);
    }
}
