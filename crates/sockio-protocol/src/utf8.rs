//! Hand-written: a thin wrapper over `bytes::Bytes` that the engine and server share; bytestring's `ByteString` would change that public type for no measured gain.
//!
//! [`Utf8Bytes`]: a cheaply cloneable, immutable UTF-8 string backed by [`Bytes`].

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// An immutable UTF-8 string backed by [`Bytes`].
///
/// Cloning and slicing never copy the text, which is what lets one encoded packet be
/// shared by every recipient of a broadcast.
///
/// ```
/// use sockio_protocol::Utf8Bytes;
///
/// let s = Utf8Bytes::from("4hello");
/// assert_eq!(s.slice_from(1).as_str(), "hello");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// A string from a `&'static str`, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Checks that `bytes` hold UTF-8 and wraps them.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps bytes another layer already validated as UTF-8 (a WebSocket library's text
    /// frame, say), without checking them again.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8.
    pub unsafe fn from_bytes_unchecked(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either validates the bytes or takes them from a
        // `str`, and slicing is only allowed on character boundaries.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The text from byte `start` on; `start` must lie on a character boundary.
    ///
    /// # Panics
    /// If `start` is not on a character boundary (a caller bug, never input-driven:
    /// callers slice after an ASCII prefix they have checked).
    pub fn slice_from(&self, start: usize) -> Self {
        assert!(self.as_str().is_char_boundary(start));
        Self(self.0.slice(start..))
    }

    /// The text of `range`, sharing the bytes; `None` when the range is out of bounds
    /// or does not lie on character boundaries.
    #[inline]
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<Self> {
        self.as_str().get(range.clone())?;
        Some(Self(self.0.slice(range)))
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives back the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(b: Bytes) -> Result<Self, Self::Error> {
        Self::try_from_bytes(b)
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_utf8() {
        assert!(Utf8Bytes::try_from(Bytes::from_static(&[0xff, 0xfe])).is_err());
        assert_eq!(
            Utf8Bytes::try_from(Bytes::from_static("é".as_bytes())).unwrap(),
            "é"
        );
    }

    #[test]
    fn slicing_shares_the_buffer() {
        let s = Utf8Bytes::from(String::from("4héllo"));
        let tail = s.slice_from(1);
        assert_eq!(tail, "héllo");
        assert_eq!(
            tail.as_bytes().as_ptr(),
            s.as_bytes()[1..].as_ptr(),
            "no copy"
        );
    }
}
