//! [`NspMap`]: a map keyed by namespace, kept as a vector of entries. A connection joins a
//! handful of namespaces (usually one), and each of its maps — the namespaces joined,
//! waiting for their CONNECT answer, left lately, the manager's sockets — holds one or
//! two entries: a hash table of one entry allocates room for four (with its control
//! bytes, ~150–210 bytes each), a vector of one exactly one, and nothing once empty.
//! Lookups scan the entries (namespace names compare in a few instructions).

/// A map from namespace name to `V`, in a vector.
#[derive(Debug)]
pub(crate) struct NspMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for NspMap<V> {
    fn default() -> Self {
        NspMap {
            entries: Vec::new(),
        }
    }
}

impl<V> NspMap<V> {
    /// An empty map (unallocated).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub(crate) fn insert(&mut self, key: String, value: V) -> Option<V> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        if self.entries.len() == self.entries.capacity() {
            // Room for one more at first, then doubling (a `Vec` starts with four).
            self.entries.reserve_exact(self.entries.len().max(1));
        }
        self.entries.push((key, value));
        None
    }

    /// Removes `key`; its value, if it was there. An emptied map frees its entries.
    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.position(key)?;
        let (_, value) = self.entries.swap_remove(i);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(value)
    }

    /// Empties the map and frees its entries.
    pub(crate) fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// Keeps the entries `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map_and_frees_when_empty() {
        let mut m = NspMap::new();
        assert_eq!(m.insert("/".to_owned(), 1), None);
        assert_eq!(m.entries.capacity(), 1);
        assert_eq!(m.insert("/chat".to_owned(), 2), None);
        assert_eq!(m.insert("/".to_owned(), 3), Some(1));
        assert_eq!(
            (m.get("/"), m.get("/chat"), m.get("/x")),
            (Some(&3), Some(&2), None)
        );
        assert!(m.contains_key("/chat") && !m.contains_key("/x"));
        assert_eq!(m.values().sum::<i32>(), 5);
        assert_eq!(m.remove("/x"), None);
        assert_eq!(m.remove("/"), Some(3));
        assert_eq!(m.get("/chat"), Some(&2));
        m.retain(|k, v| {
            *v += 1;
            k != "/chat"
        });
        assert!(m.get("/chat").is_none());
        assert_eq!(m.entries.capacity(), 0);
        m.insert("/a".to_owned(), 1);
        m.clear();
        assert_eq!((m.entries.len(), m.entries.capacity()), (0, 0));
        m.insert("/a".to_owned(), 1);
        assert_eq!(m.remove("/a"), Some(1));
        assert_eq!(m.entries.capacity(), 0);
    }
}
