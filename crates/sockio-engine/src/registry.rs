//! [`Registry`]: the live sessions of an engine, by id.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sid::Sid;

const SHARDS: usize = 32;

/// Hashes session ids, unkeyed. An id's first 16 characters are 12 random bytes (see
/// [`Sid::generate`]) and only ids the engine made are stored, so no client can choose
/// keys that collide: a keyed SipHash (the default) would buy nothing here, at several
/// times the cost on every request that carries a `sid`.
#[derive(Default)]
struct SidHasher(u64);

impl SidHasher {
    /// Folds one word in.
    fn fold(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.fold(u64::from_le_bytes(word));
        }
    }

    // A `Sid` hashes as whole words (see its `Hash`).
    fn write_u64(&mut self, word: u64) {
        self.fold(word);
    }

    fn write_u32(&mut self, word: u32) {
        self.fold(u64::from(word));
    }

    fn finish(&self) -> u64 {
        // Murmur3's finaliser: every bit of the result depends on every bit folded in,
        // so the shard (bits 32 and up) and the map inside it (low bits, top 7) draw on
        // independent bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

type SidMap<T> = HashMap<Sid, Arc<T>, BuildHasherDefault<SidHasher>>;

/// Values by session id, split in shards so lookups of different sessions rarely contend.
pub(crate) struct Registry<T> {
    shards: Vec<Mutex<SidMap<T>>>,
    hasher: BuildHasherDefault<SidHasher>,
    len: AtomicUsize,
}

impl<T> Registry<T> {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(SidMap::default())).collect(),
            hasher: Default::default(),
            len: AtomicUsize::new(0),
        }
    }

    fn shard(&self, sid: &Sid) -> MutexGuard<'_, SidMap<T>> {
        let i = ((self.hasher.hash_one(sid) >> 32) as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, sid: &Sid) -> Option<Arc<T>> {
        self.shard(sid).get(sid).cloned()
    }

    pub(crate) fn insert(&self, sid: Sid, value: Arc<T>) {
        if self.shard(&sid).insert(sid, value).is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn remove(&self, sid: &Sid) {
        if self.shard(sid).remove(sid).is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many values are registered (without locking).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub(crate) fn all(&self) -> Vec<Arc<T>> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_spread_and_removed() {
        let registry = Registry::new();
        let sids: Vec<Sid> = (0..2000).map(|_| Sid::generate()).collect();
        for (i, sid) in sids.iter().enumerate() {
            registry.insert(*sid, Arc::new(i));
        }
        assert_eq!(registry.len(), sids.len());
        for (i, sid) in sids.iter().enumerate() {
            assert_eq!(registry.get(sid).as_deref(), Some(&i));
        }
        // Every shard holds some: the shard's bits are not constant.
        for shard in &registry.shards {
            assert!(!shard.lock().unwrap().is_empty());
        }
        let unknown = Sid::parse("AAAAAAAAAAAAAAAAAAAA").expect("valid");
        assert!(registry.get(&unknown).is_none());
        for sid in &sids {
            registry.remove(sid);
        }
        assert_eq!(registry.len(), 0);
        assert!(registry.all().is_empty());
    }

    #[test]
    fn ids_differing_in_one_character_hash_apart() {
        let a = Sid::parse("AAAAAAAAAAAAAAAAAAAA").expect("valid");
        let b = Sid::parse("AAAAAAAAAAAAAAAAAAAB").expect("valid");
        let h = BuildHasherDefault::<SidHasher>::default();
        let (ha, hb) = (h.hash_one(a), h.hash_one(b));
        assert_ne!(ha, hb);
        // Both halves move (the shard's bits and the map's).
        assert_ne!(ha >> 32, hb >> 32);
        assert_ne!(ha & 0xffff_ffff, hb & 0xffff_ffff);
    }
}
