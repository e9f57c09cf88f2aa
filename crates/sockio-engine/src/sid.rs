//! [`Sid`]: session ids as Node's engine.io makes them.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use rand::RngCore;

/// A 20-character session id: 15 bytes (12 random, 3 of a process-wide counter) in
/// URL-safe base64, as Node's `base64id` makes them. Stored inline, `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

/// Hashed as three fixed-size words (every id is 20 bytes: no length is hashed), which a
/// hasher takes whole instead of as a byte slice.
impl std::hash::Hash for Sid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7, c0, c1, c2, c3] =
            self.0;
        state.write_u64(u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]));
        state.write_u64(u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]));
        state.write_u32(u32::from_le_bytes([c0, c1, c2, c3]));
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Sid {
    /// A fresh, unpredictable id.
    pub fn generate() -> Self {
        let mut raw = [0u8; 15];
        rand::rng().fill_bytes(&mut raw[..12]);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        raw[12..].copy_from_slice(&n.to_be_bytes()[1..]);
        let mut out = [0u8; 20];
        for (chunk, o) in raw.chunks(3).zip(out.chunks_mut(4)) {
            let v = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
            o[0] = ALPHABET[(v >> 18) as usize & 63];
            o[1] = ALPHABET[(v >> 12) as usize & 63];
            o[2] = ALPHABET[(v >> 6) as usize & 63];
            o[3] = ALPHABET[v as usize & 63];
        }
        Self(out)
    }

    /// Parses a client-supplied id; `None` unless it is 20 URL-safe base64 characters.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        // ALPHABET's characters, without a search of it for each one.
        let url_safe = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
        if b.len() != 20 || !b.iter().all(url_safe) {
            return None;
        }
        let mut out = [0u8; 20];
        out.copy_from_slice(b);
        Some(Self(out))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // The bytes all come from ALPHABET (ASCII).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_20_url_safe_chars_and_unique() {
        let a = Sid::generate();
        let b = Sid::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 20);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(Sid::parse(a.as_str()), Some(a));
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa="), None);
        // Exactly the alphabet's characters are taken, wherever they stand.
        for c in 0..=255u8 {
            let mut id = *b"AAAAAAAAAAAAAAAAAAAA";
            id[7] = c;
            let parsed = std::str::from_utf8(&id).ok().and_then(Sid::parse);
            assert_eq!(parsed.is_some(), ALPHABET.contains(&c), "{c}");
        }
    }
}
