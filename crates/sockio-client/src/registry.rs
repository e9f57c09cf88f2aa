//! The managers that new sockets may share (socket.io-client's `io()` cache), by the
//! options they were made with.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use crate::state::{lock, ManagerInner};

/// The shared managers, each under the key of its options.
static MANAGERS: Mutex<Vec<(String, Weak<ManagerInner>)>> = Mutex::new(Vec::new());

/// A live, open manager made with the options of `key` that has no socket of `nsp`
/// (normalized) yet.
pub(crate) fn find(key: &str, nsp: &str) -> Option<Arc<ManagerInner>> {
    let mut cache = lock(&MANAGERS);
    cache.retain(|(_, w)| w.strong_count() > 0);
    cache
        .iter()
        .filter(|(k, _)| k == key)
        .filter_map(|(_, w)| w.upgrade())
        .find(|m| !m.has_socket(nsp) && !m.closed.load(Ordering::Acquire))
}

/// Offers `manager` to the sockets made later with the options of `key`.
pub(crate) fn add(key: String, manager: &Arc<ManagerInner>) {
    lock(&MANAGERS).push((key, Arc::downgrade(manager)));
}

/// Drops the entries of managers that are closed or gone.
pub(crate) fn forget_closed() {
    lock(&MANAGERS).retain(|(_, w)| {
        w.upgrade()
            .is_some_and(|m| !m.closed.load(Ordering::Acquire))
    });
}
