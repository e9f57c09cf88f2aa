//! Hand-written: the SSE2 scan for the end of a string's plain run, shared by the reader and the writer; memchr finds at most three given bytes, not "a quote, a backslash or any control character".

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
pub(super) fn plain_len_swar(bytes: &[u8]) -> usize {
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
