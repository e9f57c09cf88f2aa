//! [`Conn`]: the Socket.IO state of one Engine.IO connection — its decoder, the packets
//! waiting behind a connection middleware, and its namespace sockets.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use sockio_protocol::socket::{Decoder, Packet, RawEvent, Value};
use sockio_protocol::Utf8Bytes;

use crate::args::Args;
use crate::error::DisconnectReason;

/// The Engine.IO connection of the Socket.IO server, as a socket holds it.
pub type EngineSocket = sockio_engine::Socket<Conn>;

/// What a connection needs from each of its namespace sockets: route packets to it and
/// end it. Implemented by the socket.
pub(crate) trait ConnSocket: Send + Sync {
    fn nsp(&self) -> &str;
    fn dispatch_event(self: Arc<Self>, name: Utf8Bytes, args: Args, ack_id: Option<u64>);
    fn handle_ack(&self, id: u64, args: Vec<Value>);
    /// The client left the namespace, or the connection ended: `reason`.
    fn close(self: Arc<Self>, reason: DisconnectReason);
    /// The server disconnects it (DISCONNECT sent to the client).
    fn disconnect(self: Arc<Self>);
}

/// Per-connection state of the Socket.IO server, kept with each Engine.IO session.
/// Opaque: it only appears in the types of [`SocketIo::engine`](crate::SocketIo::engine).
#[derive(Default)]
pub struct Conn {
    /// The decoder, and the packets waiting behind an async connection: one lock per
    /// received message.
    pub(crate) inbound: Mutex<Inbound>,
    sockets: Mutex<Vec<Arc<dyn ConnSocket>>>,
    /// Namespaces whose connection middlewares are running.
    connecting: Mutex<Vec<String>>,
    /// Whether a namespace was ever joined (the connect timeout no longer applies).
    pub(crate) joined: AtomicBool,
}

#[derive(Default)]
pub(crate) struct Inbound {
    pub(crate) decoder: Option<Decoder>,
    /// While an async connection runs, later packets wait here to keep their order.
    pub(crate) pending: Option<VecDeque<Incoming>>,
}

/// A decoded packet: a plain event with its arguments still JSON text, or any packet.
pub(crate) enum Incoming {
    Event(RawEvent),
    Packet(Packet),
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Conn {
    pub(crate) fn socket(&self, nsp: &str) -> Option<Arc<dyn ConnSocket>> {
        lock(&self.sockets).iter().find(|s| s.nsp() == nsp).cloned()
    }

    pub(crate) fn add_socket(&self, socket: Arc<dyn ConnSocket>) {
        lock(&self.sockets).push(socket);
    }

    pub(crate) fn remove_socket(&self, nsp: &str) {
        lock(&self.sockets).retain(|s| s.nsp() != nsp);
    }

    pub(crate) fn is_connecting(&self, nsp: &str) -> bool {
        lock(&self.connecting).iter().any(|n| n == nsp)
    }

    pub(crate) fn start_connecting(&self, nsp: &str) {
        lock(&self.connecting).push(nsp.to_owned());
    }

    pub(crate) fn end_connecting(&self, nsp: &str) {
        lock(&self.connecting).retain(|n| n != nsp);
    }

    /// Namespaces joined or being joined.
    pub(crate) fn namespace_count(&self) -> usize {
        lock(&self.sockets).len() + lock(&self.connecting).len()
    }

    pub(crate) fn is_idle(&self) -> bool {
        lock(&self.sockets).is_empty() && lock(&self.connecting).is_empty()
    }

    /// Disconnects every namespace socket with `reason` (no packet to the client).
    pub(crate) fn close_sockets(&self, reason: DisconnectReason) {
        let sockets: Vec<Arc<dyn ConnSocket>> = lock(&self.sockets).clone();
        for s in sockets {
            s.close(reason);
        }
    }

    /// Closes the connection for a Socket.IO-level reason: the sockets get `reason`,
    /// then the Engine.IO session closes.
    pub(crate) fn close_with(&self, esock: &EngineSocket, reason: DisconnectReason) {
        self.close_sockets(reason);
        esock.close();
    }

    /// `socket.disconnect_and_close()`: every namespace socket gets DISCONNECT, then the
    /// connection closes.
    pub(crate) fn disconnect_all_and_close(&self, esock: &EngineSocket) {
        let sockets: Vec<Arc<dyn ConnSocket>> = lock(&self.sockets).clone();
        for s in sockets {
            s.disconnect();
        }
        esock.close();
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}
