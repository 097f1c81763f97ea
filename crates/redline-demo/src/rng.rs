//! splitmix64 and the identifiers Claude Code writes (uuids, message, request and tool
//! ids), drawn from it: the generator's only source of randomness.

/// splitmix64.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub(crate) fn ms(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 >= 1.0 - p
    }
    pub(crate) fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
    pub(crate) fn word(&mut self, v: &[&'static str]) -> &'static str {
        v[(self.next() % v.len() as u64) as usize]
    }
    pub(crate) fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
    pub(crate) fn uuid(&mut self) -> String {
        let h = self.chars(32, b"0123456789abcdef").into_bytes();
        let s = |a: usize, b: usize| String::from_utf8_lossy(&h[a..b]).into_owned();
        let variant = b"89ab"[(self.next() % 4) as usize] as char;
        format!(
            "{}-{}-4{}-{}{}-{}",
            s(0, 8),
            s(8, 12),
            s(13, 16),
            variant,
            s(17, 20),
            s(20, 32)
        )
    }
    pub(crate) fn msg_id(&mut self) -> String {
        format!("msg_01{}", self.chars(22, B62))
    }
    pub(crate) fn req_id(&mut self) -> String {
        format!("req_011C{}", self.chars(20, B62))
    }
    pub(crate) fn tool_id(&mut self) -> String {
        format!("toolu_01{}", self.chars(22, B62))
    }
}

pub(crate) const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
