//! [`Registry`]: the live sessions of an engine, by id.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sid::Sid;

const SHARDS: usize = 32;

/// Values by session id, split in shards so lookups of different sessions rarely contend.
pub(crate) struct Registry<T> {
    shards: Vec<Mutex<HashMap<Sid, Arc<T>>>>,
    hasher: std::collections::hash_map::RandomState,
    len: AtomicUsize,
}

impl<T> Registry<T> {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            len: AtomicUsize::new(0),
        }
    }

    fn shard(&self, sid: &Sid) -> MutexGuard<'_, HashMap<Sid, Arc<T>>> {
        let i = (self.hasher.hash_one(sid) as usize) % SHARDS;
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
