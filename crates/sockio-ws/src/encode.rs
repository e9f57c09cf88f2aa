//! Frames encoded for either role: a server's unmasked, a client's masked.

use crate::frame::apply_mask;

/// Appends the head of a final frame: FIN, `opcode`, the length `len` in its shortest
/// form, and the mask key when there is one (a client masks every frame; a server never
/// does). The payload, masked with the same key, goes right after it.
///
/// ```
/// use sockio_ws::{opcode, write_head};
///
/// let mut out = Vec::new();
/// write_head(&mut out, opcode::TEXT, 300, None);
/// assert_eq!(out, [0x81, 126, 0x01, 0x2c]);
/// out.clear();
/// write_head(&mut out, opcode::BINARY, 5, Some([1, 2, 3, 4]));
/// assert_eq!(out, [0x82, 0x85, 1, 2, 3, 4]);
/// ```
pub fn write_head(out: &mut Vec<u8>, opcode: u8, len: usize, mask: Option<[u8; 4]>) {
    let masked = if mask.is_some() { 0x80 } else { 0 };
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(masked | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(masked | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(masked | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
    }
}

/// Appends a whole final frame carrying `payload`: unmasked when `mask` is `None` (a
/// server's), masked with it otherwise (a client's, with a fresh random key per frame).
///
/// ```
/// use sockio_ws::{opcode, parse, write_frame, Parse, Role};
///
/// let mut out = Vec::new();
/// write_frame(&mut out, opcode::TEXT, b"40", Some([9, 8, 7, 6]));
/// let Parse::Frame(frame) = parse(&out, Role::Server, 100) else { panic!() };
/// assert_eq!(&frame.to_bytes()[..], b"40");
/// ```
pub fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.reserve(14 + payload.len());
    write_head(out, opcode, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode;

    #[test]
    fn heads_take_the_shortest_length_form() {
        for (len, head) in [
            (0usize, vec![0x81, 0]),
            (125, vec![0x81, 125]),
            (126, vec![0x81, 126, 0, 126]),
            (65_535, vec![0x81, 126, 0xff, 0xff]),
            (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let mut out = Vec::new();
            write_head(&mut out, opcode::TEXT, len, None);
            assert_eq!(out, head, "{len}");
            let mut masked = Vec::new();
            write_head(&mut masked, opcode::TEXT, len, Some([1, 2, 3, 4]));
            let mut want = head.clone();
            want[1] |= 0x80;
            want.extend([1, 2, 3, 4]);
            assert_eq!(masked, want, "{len}");
        }
    }

    #[test]
    fn frames_carry_the_payload_masked_or_not() {
        let mut out = Vec::new();
        write_frame(&mut out, opcode::PONG, b"abc", None);
        assert_eq!(out, [0x8a, 3, b'a', b'b', b'c']);
        out.clear();
        write_frame(&mut out, opcode::CLOSE, &[0x03, 0xe8], Some([1, 1, 0, 0]));
        assert_eq!(out, [0x88, 0x82, 1, 1, 0, 0, 0x02, 0xe9]);
    }
}
