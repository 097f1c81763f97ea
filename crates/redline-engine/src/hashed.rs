//! Maps and sets keyed by hashes already made (`xxh3` of a dedup key, a rollup key, a
//! session): hashing such a key again, as the standard library's SipHash does, only
//! costs time: SipHash was a seventh of the time the daemon's start spent reading back a
//! store of 45,000 rollups.
//!
//! Nothing here is fed by anyone but the user's own files, so there is no flooding to
//! guard against.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Passes a `u64` key through as its own hash (other keys are folded eight bytes at a
/// time, so any key still hashes).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The [`KeyHasher`] as a map's or set's hasher.
pub type KeyBuild = BuildHasherDefault<KeyHasher>;

/// A map from hashes already made.
pub type KeyMap<V> = HashMap<u64, V, KeyBuild>;

/// A set of hashes already made.
pub type KeySet = HashSet<u64, KeyBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_u64_key_is_its_own_hash_and_other_keys_still_spread() {
        let b = KeyBuild::default();
        assert_eq!(b.hash_one(0x0123_4567_89ab_cdef_u64), 0x0123_4567_89ab_cdef);
        assert_ne!(b.hash_one("a session"), b.hash_one("another one"));
        let mut m: KeyMap<u32> = KeyMap::default();
        for k in 0..1000u64 {
            m.insert(
                k.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                u32::try_from(k).unwrap(),
            );
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m[&7u64.wrapping_mul(0x9e37_79b9_7f4a_7c15)], 7);
    }
}
