//! Hand-written: the SSE2 scan for the end of a JSON string's plain run (up to a quote, a backslash or any control character, which memchr's at most three given bytes cannot express), and the string writer built on it; serde_json's byte-table escaping was slower on the bench event (bench/notes.md).
//!
//! JSON string literals, shared by the Engine.IO layer (the `open` packet) and the
//! Socket.IO layer's JSON reader and writer: the lowest layer of the crate.

use std::fmt::Write as _;

/// How many leading bytes of `bytes` a JSON string holds as they are: up to the first
/// `"`, `\` or control character. Sixteen bytes at a time with SSE2 (part of every
/// x86-64 CPU), then eight at a time.
#[cfg(target_arch = "x86_64")]
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut i = 0;
    // SAFETY: SSE2 is in the x86-64 baseline, so these intrinsics are always available;
    // each unaligned 16-byte load reads `bytes[i..i + 16]`, inside the slice.
    unsafe {
        let quotes = _mm_set1_epi8(b'"' as i8);
        let backslashes = _mm_set1_epi8(b'\\' as i8);
        let last_control = _mm_set1_epi8(0x1f);
        while i + 16 <= bytes.len() {
            let x = _mm_loadu_si128(bytes.as_ptr().add(i).cast::<__m128i>());
            // A byte is a control character when min(byte, 0x1f) is the byte itself.
            let controls = _mm_cmpeq_epi8(_mm_min_epu8(x, last_control), x);
            let specials = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, quotes), _mm_cmpeq_epi8(x, backslashes)),
                controls,
            );
            let mask = _mm_movemask_epi8(specials) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    i + plain_len_swar(&bytes[i..])
}

/// [`plain_len`] without SIMD.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    plain_len_swar(bytes)
}

/// [`plain_len`] eight bytes at a time in a `u64`.
pub(crate) fn plain_len_swar(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut i = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // The classic "has a byte below n" test (n <= 0x80) for n = 0x20, and for n = 1
        // on x ^ '"' and x ^ '\\' (a zero byte where x has one). Flags are exact about
        // whether such a byte exists. The three share `!x & HIGHS`: '"' and '\\' are
        // ASCII, so xoring with them keeps every byte's high bit.
        let below = x.wrapping_sub(ONES * 0x20)
            | (x ^ QUOTES).wrapping_sub(ONES)
            | (x ^ BACKSLASHES).wrapping_sub(ONES);
        if below & !x & HIGHS != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Writes a JSON string literal, escaped as `JSON.stringify` does.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut at = 0;
    loop {
        let run = plain_len(&bytes[at..]);
        // `at` and `at + run` are at ASCII bytes (or the end), hence char boundaries.
        out.push_str(&s[at..at + run]);
        at += run;
        let Some(&b) = bytes.get(at) else {
            break;
        };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        at += 1;
    }
    out.push('"');
}
