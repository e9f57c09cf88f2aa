//! The listener registry of a socket: event listeners, catch-all listeners, packet
//! middlewares, and the disconnection and error listeners. Generic over the handle
//! listeners get (the socket), so it knows nothing else of sockets.

use std::borrow::Cow;
use std::sync::Arc;

use sockio_protocol::socket::Value;

use crate::error::DisconnectReason;
use crate::event::Event;

/// Identifies a listener added with [`Socket::on`](crate::Socket::on) (or
/// `on_any`, `on_any_outgoing`), to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u64);

pub(crate) type EventHandler<S> = Arc<dyn Fn(&S, Event) + Send + Sync>;
pub(crate) type AnyHandler<S> = Arc<dyn Fn(&S, &str, &[Value]) + Send + Sync>;
pub(crate) type ReasonHandler<S> = Arc<dyn Fn(&S, DisconnectReason) + Send + Sync>;
pub(crate) type PacketMiddleware<S> =
    Arc<dyn Fn(&S, &mut Event) -> Result<(), String> + Send + Sync>;
pub(crate) type ErrorHandler<S> = Arc<dyn Fn(&S, &str) + Send + Sync>;

pub(crate) struct Listener<S> {
    pub(crate) id: ListenerId,
    pub(crate) event: Cow<'static, str>,
    pub(crate) once: bool,
    pub(crate) handler: EventHandler<S>,
}

pub(crate) struct Listeners<S> {
    /// Every event listener in the order added. A socket has a handful: one list
    /// scanned by name costs less to build (per connection) and to search than a map.
    pub(crate) events: Vec<Listener<S>>,
    pub(crate) any: Vec<(ListenerId, AnyHandler<S>)>,
    pub(crate) any_outgoing: Vec<(ListenerId, AnyHandler<S>)>,
    pub(crate) disconnecting: Vec<ReasonHandler<S>>,
    pub(crate) disconnect: Vec<ReasonHandler<S>>,
    pub(crate) middlewares: Vec<PacketMiddleware<S>>,
    pub(crate) error: Vec<ErrorHandler<S>>,
}

impl<S> Default for Listeners<S> {
    fn default() -> Self {
        Self {
            events: Vec::new(),
            any: Vec::new(),
            any_outgoing: Vec::new(),
            disconnecting: Vec::new(),
            disconnect: Vec::new(),
            middlewares: Vec::new(),
            error: Vec::new(),
        }
    }
}

impl<S> Listeners<S> {
    /// The listener of `event` when it has exactly one, lasting (not `once`).
    pub(crate) fn single(&self, event: &str) -> Option<EventHandler<S>> {
        let mut found = self.events.iter().filter(|l| l.event == event);
        match (found.next(), found.next()) {
            (Some(only), None) if !only.once => Some(only.handler.clone()),
            _ => None,
        }
    }

    /// Every listener of `event`, in order; `once` listeners are removed.
    pub(crate) fn take_for(&mut self, event: &str) -> Vec<EventHandler<S>> {
        let handlers = self
            .events
            .iter()
            .filter(|h| h.event == event)
            .map(|h| h.handler.clone())
            .collect();
        self.events.retain(|h| !(h.once && h.event == event));
        handlers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(id: u64, event: &'static str, once: bool) -> Listener<()> {
        Listener {
            id: ListenerId(id),
            event: Cow::Borrowed(event),
            once,
            handler: Arc::new(|_, _| {}),
        }
    }

    #[test]
    fn single_only_for_one_lasting_listener_and_once_removed_after_use() {
        let mut l = Listeners::<()>::default();
        l.events.push(listener(0, "a", false));
        assert!(l.single("a").is_some());
        l.events.push(listener(1, "a", true));
        assert!(l.single("a").is_none());
        assert_eq!(l.take_for("a").len(), 2);
        assert_eq!(l.take_for("a").len(), 1);
        assert!(l.single("a").is_some());
        assert!(l.take_for("b").is_empty());
    }
}
