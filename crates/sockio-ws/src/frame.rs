//! Frame heads read from the start of a byte slice, and masking.

use bytes::Bytes;

use crate::error::FrameError;
use crate::opcode;

/// Which end of the connection reads the frames: it decides whether the peer's frames
/// must be masked (a client's, read by a server) or must not be (a server's, read by a
/// client).
///
/// ```
/// use sockio_ws::Role;
/// assert_eq!(Role::Server.max_head(), 14);
/// assert_eq!(Role::Client.max_head(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We are the server: frames come from a client, masked.
    Server,
    /// We are the client: frames come from a server, unmasked.
    Client,
}

impl Role {
    /// The longest head of a frame this end reads: 2 bytes, an 8-byte length, and a
    /// client's 4-byte mask key.
    ///
    /// ```
    /// assert_eq!(sockio_ws::Role::Server.max_head(), 2 + 8 + 4);
    /// ```
    pub const fn max_head(self) -> usize {
        match self {
            Role::Server => 14,
            Role::Client => 10,
        }
    }
}

/// What the start of a byte slice holds, as [`parse`] reads it.
///
/// ```
/// use sockio_ws::{parse, FrameError, Parse, Role};
///
/// assert_eq!(parse(&[0x81], Role::Client, 100), Parse::Need(10));
/// assert!(matches!(parse(&[0x81, 0x00], Role::Client, 100), Parse::Frame(_)));
/// assert_eq!(parse(&[0xc1, 0x00], Role::Client, 100), Parse::Error(FrameError::ReservedBits));
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum Parse<'a> {
    /// A frame not there whole yet: it needs this many bytes in all, counted from the
    /// start of the slice — its exact length once its head tells it, until then the
    /// longest head the role reads. Always more than the slice holds.
    Need(usize),
    /// A whole frame, checked.
    Frame(Frame<'a>),
    /// The peer broke the protocol; nothing after this can be read.
    Error(FrameError),
}

/// One whole frame, its payload still in the bytes it was read from (and still masked
/// when it came from a client): copying it out is the caller's choice.
///
/// ```
/// use sockio_ws::{parse, Parse, Role};
///
/// // "Hi" masked with the key 1, 2, 3, 4, as a client sends it.
/// let wire = [0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
/// let Parse::Frame(frame) = parse(&wire, Role::Server, 100) else { panic!() };
/// assert!(frame.fin);
/// assert_eq!((frame.opcode, frame.len), (sockio_ws::opcode::TEXT, 8));
/// assert_eq!(&frame.to_bytes()[..], b"Hi");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Whether this is a message's last (or only) frame.
    pub fin: bool,
    /// The opcode as sent (see [`opcode`](crate::opcode)); an unknown one is refused by
    /// [`Reassembler::push`](crate::Reassembler::push), not here.
    pub opcode: u8,
    /// The mask key, on a client's frame.
    pub mask: Option<[u8; 4]>,
    /// The payload as it came: masked when `mask` is set.
    pub payload: &'a [u8],
    /// How many bytes of the slice the whole frame took (head and payload).
    pub len: usize,
}

/// Every byte value, in order: the payloads of one-byte frames, shared.
static ONE_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

impl Frame<'_> {
    /// The payload unmasked, in a buffer of its own (one copy).
    ///
    /// ```
    /// use sockio_ws::{parse, Parse, Role};
    /// let Parse::Frame(f) = parse(&[0x82, 0x02, 7, 8], Role::Client, 100) else { panic!() };
    /// assert_eq!(&f.to_bytes()[..], &[7, 8]);
    /// ```
    pub fn to_bytes(&self) -> Bytes {
        // A one-byte payload (Engine.IO's heartbeat packets, `2` and `3`, are one byte)
        // points into a static table: no allocation for it, nor a free.
        if let [b] = self.payload {
            let b = usize::from(b ^ self.mask.map_or(0, |m| m[0]));
            return Bytes::from_static(&ONE_BYTE[b..=b]);
        }
        match self.mask {
            None => Bytes::copy_from_slice(self.payload),
            Some(mask) => {
                let mut out = self.payload.to_vec();
                apply_mask(&mut out, mask);
                Bytes::from(out)
            }
        }
    }

    /// Appends the payload, unmasked, to `out`.
    ///
    /// ```
    /// use sockio_ws::{parse, Parse, Role};
    /// let Parse::Frame(f) = parse(&[0x02, 0x81, 9, 0, 0, 0, 9 ^ 3], Role::Server, 100) else {
    ///     panic!()
    /// };
    /// let mut out = vec![1, 2];
    /// f.unmask_into(&mut out);
    /// assert_eq!(out, [1, 2, 3]);
    /// ```
    pub fn unmask_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(self.payload);
        if let Some(mask) = self.mask {
            apply_mask(&mut out[start..], mask);
        }
    }
}

/// Reads the frame at the start of `data`, as `role` receives it, with messages limited
/// to `max_payload` bytes. Every rule the head alone decides is checked as soon as the
/// bytes that decide it are there (reserved bits, masking, control frames, the size
/// limit), so an oversized frame is refused before any of its payload arrives.
///
/// ```
/// use sockio_ws::{parse, FrameError, Parse, Role};
///
/// let wire = [0x81, 0x03, b'4', b'a', b'b'];
/// assert_eq!(parse(&wire[..1], Role::Client, 100), Parse::Need(10));
/// assert_eq!(parse(&wire[..3], Role::Client, 100), Parse::Need(5));
/// let Parse::Frame(frame) = parse(&wire, Role::Client, 100) else { panic!() };
/// assert_eq!(frame.payload, b"4ab");
/// assert_eq!(parse(&wire, Role::Client, 2), Parse::Error(FrameError::TooBig));
/// ```
pub fn parse(data: &[u8], role: Role, max_payload: usize) -> Parse<'_> {
    let (Some(&b0), Some(&b1)) = (data.first(), data.get(1)) else {
        return Parse::Need(role.max_head());
    };
    let len_bytes = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let Some(len_field) = data.get(2..2 + len_bytes) else {
        return Parse::Need(role.max_head());
    };
    let len = match len_bytes {
        0 => u64::from(b1 & 0x7f),
        _ => len_field.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)),
    };
    let (fin, op, masked) = (b0 & 0x80 != 0, b0 & 0x0f, b1 & 0x80 != 0);
    if b0 & 0x70 != 0 {
        return Parse::Error(FrameError::ReservedBits);
    }
    match (role, masked) {
        (Role::Server, false) => return Parse::Error(FrameError::Unmasked),
        (Role::Client, true) => return Parse::Error(FrameError::Masked),
        _ => {}
    }
    if opcode::is_control(op) && (!fin || len > 125) {
        return Parse::Error(FrameError::BadControl);
    }
    let head = 2 + len_bytes + if masked { 4 } else { 0 };
    let total = match usize::try_from(len) {
        Ok(len) if len <= max_payload => head.checked_add(len),
        _ => None,
    };
    let Some(total) = total else {
        return Parse::Error(FrameError::TooBig);
    };
    let Some(payload) = data.get(head..total) else {
        return Parse::Need(total);
    };
    let mask = match masked.then(|| data.get(2 + len_bytes..head)).flatten() {
        Some(&[a, b, c, d]) => Some([a, b, c, d]),
        _ => None,
    };
    Parse::Frame(Frame {
        fin,
        opcode: op,
        mask,
        payload,
        len: total,
    })
}

/// XORs `data` with the repeated `mask`: masks a payload, and unmasks it again.
///
/// ```
/// let mut data = *b"hello";
/// sockio_ws::apply_mask(&mut data, [1, 2, 3, 4]);
/// assert_ne!(&data, b"hello");
/// sockio_ws::apply_mask(&mut data, [1, 2, 3, 4]);
/// assert_eq!(&data, b"hello");
/// ```
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(mask) {
        *b ^= m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::write_frame;

    /// A frame as `role` receives it: masked when a server reads it.
    fn wire(role: Role, fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mask = (role == Role::Server).then_some([0x12, 0x34, 0x56, 0x78]);
        let mut out = Vec::new();
        write_frame(&mut out, op, payload, mask);
        if !fin {
            out[0] &= 0x7f;
        }
        out
    }

    #[test]
    fn one_byte_payloads_read_back_masked_or_not() {
        for role in [Role::Server, Role::Client] {
            for b in 0..=255u8 {
                let data = wire(role, true, opcode::TEXT, &[b]);
                let Parse::Frame(f) = parse(&data, role, 10) else {
                    panic!("{role:?} {b}")
                };
                assert_eq!(&f.to_bytes()[..], &[b], "{role:?}");
            }
        }
        // Longer payloads are copied as before.
        let data = wire(Role::Server, true, opcode::TEXT, b"42");
        let Parse::Frame(f) = parse(&data, Role::Server, 10) else {
            panic!()
        };
        assert_eq!(&f.to_bytes()[..], b"42");
    }

    #[test]
    fn every_length_form_reads_back_and_every_prefix_needs_more() {
        for role in [Role::Server, Role::Client] {
            for n in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
                let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                let data = wire(role, true, opcode::BINARY, &payload);
                let Parse::Frame(frame) = parse(&data, role, 1 << 20) else {
                    panic!("{role:?} {n}");
                };
                assert_eq!(frame.len, data.len());
                assert_eq!(&frame.to_bytes()[..], &payload[..]);
                let mut appended = vec![0xaa];
                frame.unmask_into(&mut appended);
                assert_eq!(&appended[1..], &payload[..]);
                // Cut anywhere: more is needed, and never less than what is there.
                for cut in (0..data.len())
                    .step_by(97)
                    .chain((0..4).chain([data.len() - 1]).filter(|&c| c < data.len()))
                {
                    match parse(&data[..cut], role, 1 << 20) {
                        Parse::Need(need) => {
                            assert!(need > cut, "{role:?} {n} {cut}");
                            assert!(need == data.len() || need == role.max_head());
                        }
                        other => panic!("{role:?} {n} {cut}: {other:?}"),
                    }
                }
                // Bytes after the frame are left alone.
                let mut more = data.clone();
                more.extend_from_slice(&[0x81, 0x00]);
                let Parse::Frame(again) = parse(&more, role, 1 << 20) else {
                    panic!()
                };
                assert_eq!(again.len, data.len());
            }
        }
    }

    #[test]
    fn broken_heads_are_refused_with_their_code() {
        let cases: [(Role, Vec<u8>, FrameError); 8] = [
            (Role::Client, vec![0xc1, 0x00], FrameError::ReservedBits),
            (Role::Server, vec![0x91, 0x80], FrameError::ReservedBits),
            (
                Role::Client,
                wire(Role::Server, true, opcode::TEXT, b"x"),
                FrameError::Masked,
            ),
            (
                Role::Server,
                wire(Role::Client, true, opcode::TEXT, b"x"),
                FrameError::Unmasked,
            ),
            (
                Role::Client,
                wire(Role::Client, false, opcode::PING, b""),
                FrameError::BadControl,
            ),
            (
                Role::Server,
                wire(Role::Server, true, opcode::CLOSE, &[0; 126]),
                FrameError::BadControl,
            ),
            (Role::Client, vec![0x82, 11], FrameError::TooBig),
            (
                Role::Server,
                [&[0x82u8, 0xff][..], &u64::MAX.to_be_bytes()].concat(),
                FrameError::TooBig,
            ),
        ];
        for (role, data, error) in cases {
            assert_eq!(parse(&data, role, 10), Parse::Error(error), "{data:?}");
        }
        // The largest length a usize holds, with no limit: refused, not overflowed.
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(usize::MAX as u64).to_be_bytes());
        assert_eq!(
            parse(&huge, Role::Client, usize::MAX),
            Parse::Error(FrameError::TooBig)
        );
        // Exactly the limit is fine.
        let data = wire(Role::Client, true, opcode::TEXT, b"0123456789");
        assert!(matches!(parse(&data, Role::Client, 10), Parse::Frame(_)));
    }

    #[test]
    fn masking_matches_bytewise_at_every_length_and_offset() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in 0..11 {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut fast = data.clone();
            apply_mask(&mut fast, mask);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(fast, slow);
            apply_mask(&mut fast, mask);
            assert_eq!(fast, data);
        }
    }
}
