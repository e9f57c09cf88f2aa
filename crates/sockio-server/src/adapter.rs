//! The cluster boundary: what crosses from one Socket.IO server to the others.
//!
//! A namespace keeps its own sockets and rooms in memory ([`RoomIndex`](crate::rooms::RoomIndex))
//! and delivers to them itself; its [`Adapter`] carries every operation to the **other**
//! servers of a cluster and hands their operations back through a [`NamespaceHandle`].
//! This is socket.io-adapter's split: `broadcast`, broadcast with acknowledgements,
//! `fetchSockets`, `socketsJoin` / `socketsLeave`, `disconnectSockets`,
//! `serverSideEmit` (with and without acknowledgement), `serverCount` and `allRooms`.
//!
//! [`LocalAdapter`], the default, is the single-server implementation: there are no
//! other servers, so it sends nothing and every request completes at once with no
//! remote answer. A cluster adapter (Redis, say) publishes what it is given and, for what
//! it receives, calls the [`NamespaceHandle`] it got in [`Adapter::init`].
//!
//! Everything that travels is serializable with serde: [`BroadcastOptions`],
//! [`RemoteSocketData`] (with its [`HandshakeData`]), the arguments as
//! [`Value`](sockio_protocol::socket::Value)s.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sockio_protocol::socket::Value;
use tokio::sync::mpsc;

use crate::args::Args;
use crate::error::{AdapterError, BroadcastAckError};
use crate::ids::{Room, SocketId};

/// A boxed future, as the adapter's asynchronous operations return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn is_false(b: &bool) -> bool {
    !*b
}

/// Flags of a broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BroadcastFlags {
    /// Drop the packet for sockets whose transport cannot write right now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub volatile: bool,
    /// Only this server's sockets: the adapter is not asked to reach other servers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub local: bool,
    /// For broadcasts with acknowledgements: how long answers are waited for, in
    /// milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// Which sockets an operation targets: those in any of `rooms` (every socket when empty)
/// and in none of `except` (a socket id as a room targets or spares that one socket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Excluded rooms.
    pub except: Vec<Room>,
    /// Flags.
    #[serde(default)]
    pub flags: BroadcastFlags,
}

impl BroadcastOptions {
    /// Options targeting `rooms` except `except`, no flags.
    pub fn new(rooms: Vec<Room>, except: Vec<Room>) -> Self {
        Self {
            rooms,
            except,
            flags: BroadcastFlags::default(),
        }
    }
}

/// The HTTP request that opened a socket's connection, as socket.io serializes
/// `socket.handshake` for other servers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HandshakeData {
    /// Request headers (names in lower case; repeated headers joined with `, `).
    pub headers: Value,
    /// When the connection opened, as JavaScript's `Date.toString()` writes it.
    pub time: String,
    /// The client's IP address.
    pub address: String,
    /// Whether the request was cross-origin (it had an `Origin` header).
    pub xdomain: bool,
    /// Whether the connection was encrypted.
    pub secure: bool,
    /// When the connection opened, in milliseconds since the Unix epoch.
    pub issued: u64,
    /// The request URL (path and query).
    pub url: String,
    /// The decoded query parameters.
    pub query: Value,
    /// The auth payload of the CONNECT packet.
    pub auth: Value,
}

/// A socket as another server describes it in answer to `fetch_sockets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemoteSocketData {
    /// The socket id.
    pub id: SocketId,
    /// Its connection's handshake.
    pub handshake: HandshakeData,
    /// Its rooms, its own id room included.
    pub rooms: Vec<Room>,
    /// Its `socket.data`.
    pub data: Value,
}

/// One answer to a broadcast with acknowledgements, from another server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AckReply {
    /// A server delivered the broadcast to this many of its sockets (each server sends
    /// one).
    ClientCount(usize),
    /// One socket's answer (its first argument).
    Ack(Value),
}

/// Where an adapter puts the answers of other servers to a broadcast with
/// acknowledgements. Dropping it tells the waiting emitter no more will come.
#[derive(Debug, Clone)]
pub struct AckSink(mpsc::UnboundedSender<AckReply>);

impl AckSink {
    /// A sink and the receiving end the emitter reads.
    pub fn channel() -> (AckSink, mpsc::UnboundedReceiver<AckReply>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (AckSink(tx), rx)
    }

    /// Hands over one answer; false once nobody waits any more.
    pub fn send(&self, reply: AckReply) -> bool {
        self.0.send(reply).is_ok()
    }
}

/// The cluster side of a namespace: every operation that must reach the sockets of other
/// servers, and the count of those servers.
///
/// The namespace has already applied an operation to its own sockets when it calls the
/// adapter, so an implementation only carries it to the other servers (and, receiving
/// theirs, applies them through the [`NamespaceHandle`] given to [`Adapter::init`]).
/// Operations with [`BroadcastFlags::local`] set never reach the adapter.
pub trait Adapter: Send + Sync + 'static {
    /// Called once, before the namespace is used, with the handle through which
    /// operations from other servers are applied to this server's sockets.
    fn init(&self, namespace: NamespaceHandle) -> BoxFuture<'static, Result<(), AdapterError>>;

    /// Called when the server closes: stop receiving, release connections.
    fn close(&self) -> BoxFuture<'static, ()>;

    /// How many servers serve this namespace, this one included.
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>>;

    /// Sends `event` with `args` to the sockets of the other servers that `opts` selects.
    fn broadcast(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &Args,
    ) -> Result<(), AdapterError>;

    /// Like [`Adapter::broadcast`], asking every selected socket for an acknowledgement:
    /// each other server answers with its [`AckReply::ClientCount`], then each
    /// [`AckReply::Ack`] as it comes, into `replies`; the adapter drops `replies` when
    /// `opts.flags.timeout` has passed.
    fn broadcast_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &Args,
        replies: AckSink,
    ) -> Result<(), AdapterError>;

    /// The sockets of the other servers that `opts` selects.
    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>>;

    /// Makes the sockets of the other servers that `opts` selects join `rooms`.
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError>;

    /// Makes the sockets of the other servers that `opts` selects leave `rooms`.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError>;

    /// Disconnects the sockets of the other servers that `opts` selects; with `close`,
    /// their whole connections close.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError>;

    /// Every room of the other servers (socket id rooms included).
    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>>;

    /// Sends a server-side event to the other servers (`args[0]` is the event name).
    fn server_side_emit(&self, args: Vec<Value>) -> Result<(), AdapterError>;

    /// Sends a server-side event to the other servers and collects one answer from each
    /// within `timeout`; when they do not all come, the error
    /// ([`BroadcastAckError::Adapter`]) keeps the answers that did.
    fn server_side_emit_with_ack(
        &self,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>>;

    /// A room of this server got its first socket (socket.io-adapter's `create-room`).
    /// `private` when the room is a socket's own id room. Called after the socket joined,
    /// before the join returns. Does nothing unless implemented: the sharded Redis
    /// adapter subscribes to a room's channel here.
    fn room_created(&self, room: &Room, private: bool) {
        let _ = (room, private);
    }

    /// A room of this server lost its last socket (socket.io-adapter's `delete-room`).
    /// `private` as for [`Adapter::room_created`]. Does nothing unless implemented.
    fn room_deleted(&self, room: &Room, private: bool) {
        let _ = (room, private);
    }
}

/// Waits on `replies` for one answer from each of `expected` other servers, at most
/// `timeout`: what a cluster adapter does after publishing a request (`fetch_sockets`,
/// `all_rooms`, `server_side_emit_with_ack`). Gives every answer, or — when not all came
/// in time, or every sender is gone — [`AdapterError::Timeout`] with the answers that
/// did come.
pub async fn gather_replies<T>(
    replies: &mut mpsc::UnboundedReceiver<T>,
    expected: usize,
    timeout: Duration,
) -> Result<Vec<T>, (AdapterError, Vec<T>)> {
    let mut got = Vec::with_capacity(expected);
    let _ = tokio::time::timeout(timeout, async {
        while got.len() < expected {
            match replies.recv().await {
                Some(v) => got.push(v),
                None => break,
            }
        }
    })
    .await;
    if got.len() < expected {
        let received = got.len();
        return Err((AdapterError::Timeout { received, expected }, got));
    }
    Ok(got)
}

/// Builds the adapter of each namespace (the name is given), for
/// [`SocketIoBuilder::adapter`](crate::SocketIoBuilder::adapter).
pub type AdapterFactory = Arc<dyn Fn(&str) -> Arc<dyn Adapter> + Send + Sync>;

/// The in-memory adapter: a single server. It sends nothing anywhere; requests complete
/// at once with no remote answer, and [`Adapter::server_count`] is 1.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn init(&self, _namespace: NamespaceHandle) -> BoxFuture<'static, Result<(), AdapterError>> {
        Box::pin(async { Ok(()) })
    }
    fn close(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        Box::pin(async { Ok(1) })
    }
    fn broadcast(&self, _: &BroadcastOptions, _: &str, _: &Args) -> Result<(), AdapterError> {
        Ok(())
    }
    fn broadcast_with_ack(
        &self,
        _: &BroadcastOptions,
        _: &str,
        _: &Args,
        _: AckSink,
    ) -> Result<(), AdapterError> {
        Ok(())
    }
    fn fetch_sockets(
        &self,
        _: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn add_sockets(&self, _: &BroadcastOptions, _: &[Room]) -> Result<(), AdapterError> {
        Ok(())
    }
    fn del_sockets(&self, _: &BroadcastOptions, _: &[Room]) -> Result<(), AdapterError> {
        Ok(())
    }
    fn disconnect_sockets(&self, _: &BroadcastOptions, _: bool) -> Result<(), AdapterError> {
        Ok(())
    }
    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn server_side_emit(&self, _: Vec<Value>) -> Result<(), AdapterError> {
        Ok(())
    }
    fn server_side_emit_with_ack(
        &self,
        _: Vec<Value>,
        _: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// What the namespace lets its adapter do to this server's sockets, on behalf of other
/// servers. Implemented by the namespace.
pub(crate) trait LocalApply: Send + Sync {
    fn name(&self) -> &str;
    fn broadcast(&self, opts: &BroadcastOptions, event: &str, args: Args);
    fn broadcast_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: Args,
        on_ack: Arc<dyn Fn(Value) + Send + Sync>,
    ) -> usize;
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<RemoteSocketData>;
    fn rooms(&self) -> Vec<Room>;
    fn server_side_event(&self, args: Vec<Value>);
    fn server_side_event_with_ack(&self, args: Vec<Value>) -> Option<Value>;
}

/// This server's side of a namespace, as its [`Adapter`] sees it: what the adapter
/// applies here when other servers ask. Cheap to clone; once the namespace is gone,
/// every call does nothing.
#[derive(Clone)]
pub struct NamespaceHandle(Weak<dyn LocalApply>);

impl std::fmt::Debug for NamespaceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.0.upgrade().map(|n| n.name().to_owned());
        f.debug_tuple("NamespaceHandle").field(&name).finish()
    }
}

impl NamespaceHandle {
    pub(crate) fn new(ns: Weak<dyn LocalApply>) -> Self {
        Self(ns)
    }

    /// The namespace name, e.g. `/chat` (`None` once it is gone).
    pub fn name(&self) -> Option<String> {
        self.0.upgrade().map(|n| n.name().to_owned())
    }

    /// Delivers a broadcast of another server to this server's sockets that `opts`
    /// selects.
    pub fn broadcast(&self, opts: &BroadcastOptions, event: &str, args: Args) {
        if let Some(ns) = self.0.upgrade() {
            ns.broadcast(opts, event, args);
        }
    }

    /// Delivers a broadcast with acknowledgements of another server: returns to how
    /// many sockets it went; `on_ack` gets the first argument of each answer. Answers
    /// are waited for `opts.flags.timeout` milliseconds (or until the socket leaves).
    pub fn broadcast_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: Args,
        on_ack: impl Fn(Value) + Send + Sync + 'static,
    ) -> usize {
        match self.0.upgrade() {
            Some(ns) => ns.broadcast_with_ack(opts, event, args, Arc::new(on_ack)),
            None => 0,
        }
    }

    /// Makes this server's sockets that `opts` selects join `rooms`.
    pub fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if let Some(ns) = self.0.upgrade() {
            ns.add_sockets(opts, rooms);
        }
    }

    /// Makes this server's sockets that `opts` selects leave `rooms`.
    pub fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if let Some(ns) = self.0.upgrade() {
            ns.del_sockets(opts, rooms);
        }
    }

    /// Disconnects this server's sockets that `opts` selects (with `close`, their
    /// connections too).
    pub fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if let Some(ns) = self.0.upgrade() {
            ns.disconnect_sockets(opts, close);
        }
    }

    /// This server's sockets that `opts` selects, described for another server.
    pub fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<RemoteSocketData> {
        self.0
            .upgrade()
            .map(|ns| ns.fetch_sockets(opts))
            .unwrap_or_default()
    }

    /// This server's rooms (socket id rooms included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.upgrade().map(|ns| ns.rooms()).unwrap_or_default()
    }

    /// Runs the server-side listeners of `args[0]` with the rest of `args`.
    pub fn server_side_emit(&self, args: Vec<Value>) {
        if let Some(ns) = self.0.upgrade() {
            ns.server_side_event(args);
        }
    }

    /// Runs the server-side listener with acknowledgement of `args[0]`: its answer, or
    /// `None` when there is no such listener (then no answer should be sent).
    pub fn server_side_emit_with_ack(&self, args: Vec<Value>) -> Option<Value> {
        self.0
            .upgrade()
            .and_then(|ns| ns.server_side_event_with_ack(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gather_replies_stops_at_the_expected_count() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for n in 0..3 {
            tx.send(n).unwrap();
        }
        let got = gather_replies(&mut rx, 2, Duration::from_secs(5)).await;
        assert_eq!(got, Ok(vec![0, 1]));
    }

    #[tokio::test]
    async fn gather_replies_keeps_what_came_before_the_timeout() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send("a").unwrap();
        let got = gather_replies(&mut rx, 3, Duration::from_millis(50)).await;
        let timeout = AdapterError::Timeout {
            received: 1,
            expected: 3,
        };
        assert_eq!(got, Err((timeout, vec!["a"])));
    }

    #[tokio::test]
    async fn gather_replies_ends_when_the_senders_are_gone() {
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        drop(tx);
        let got = gather_replies(&mut rx, 1, Duration::from_secs(3600)).await;
        assert!(matches!(
            got,
            Err((AdapterError::Timeout { received: 0, .. }, _))
        ));
    }
}
