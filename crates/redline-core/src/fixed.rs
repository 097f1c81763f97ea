//! A string in a fixed buffer, for the names, paths and hosts the firmware's wire code
//! keeps (mDNS names, the Host header, the request path) without a heap.
//!
//! Only whole characters go in, so the contents are always valid UTF-8; a push that does
//! not fit changes nothing and says so.

use core::fmt;

/// Up to `N` bytes of UTF-8.
#[derive(Clone, Copy)]
pub struct FixedStr<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// The text did not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl<const N: usize> FixedStr<N> {
    /// Empty.
    pub const fn new() -> FixedStr<N> {
        FixedStr {
            bytes: [0; N],
            len: 0,
        }
    }

    /// `text` as a fixed string; `None` when it is longer than `N` bytes.
    pub fn from_text(text: &str) -> Option<FixedStr<N>> {
        let mut s = FixedStr::new();
        s.push_str(text).ok()?;
        Some(s)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s and `char`s are ever copied in.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// Its length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `text` whole, or nothing when it does not fit.
    pub fn push_str(&mut self, text: &str) -> Result<(), Full> {
        let end = self.len + text.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(Full)?
            .copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }

    /// Appends one character, or nothing when it does not fit.
    pub fn push(&mut self, c: char) -> Result<(), Full> {
        self.push_str(c.encode_utf8(&mut [0; 4]))
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> FixedStr<N> {
        FixedStr::new()
    }
}

impl<const N: usize> core::ops::Deref for FixedStr<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

// By contents: bytes past the length are left over from earlier text.
impl<const N: usize> PartialEq for FixedStr<N> {
    fn eq(&self, other: &FixedStr<N>) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> Eq for FixedStr<N> {}

impl<const N: usize> PartialEq<str> for FixedStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for FixedStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Write for FixedStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s).map_err(|_| fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_goes_in_whole_or_not_at_all() {
        let mut s = FixedStr::<4>::new();
        assert_eq!(s.push_str("ab"), Ok(()));
        assert_eq!(s.push_str("cde"), Err(Full));
        assert_eq!(s, "ab");
        assert_eq!(s.push('é'), Ok(()));
        assert_eq!(s.push('x'), Err(Full));
        assert_eq!(s.as_str(), "abé");
        assert_eq!(FixedStr::<2>::from_text("abc"), None);
        s.clear();
        s.push('a').unwrap();
        assert_eq!(s, FixedStr::<4>::from_text("a").unwrap());
    }
}
