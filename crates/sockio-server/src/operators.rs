//! [`BroadcastOperator`]: a selection of sockets of one namespace (rooms, exceptions,
//! flags) and what can be done to all of them — emit, emit with acknowledgements, join,
//! leave, disconnect, fetch — on this server and, through the namespace's adapter, on
//! the others. [`RemoteSocket`] is a fetched socket, wherever it lives.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sockio_protocol::socket::{from_value, is_reserved_event, Value, ValueError};

use crate::adapter::{BoxFuture, BroadcastOptions, HandshakeData, RemoteSocketData};
use crate::args::{Args, IntoArgs};
use crate::error::{AdapterError, BroadcastAckError, EmitError};
use crate::ids::{IntoRooms, Room, SocketId};

/// What an operator acts on: a namespace (or a dynamic namespace's children), here and
/// on the other servers. Implemented by the namespace.
pub(crate) trait BroadcastTarget: Send + Sync {
    fn emit(&self, opts: &BroadcastOptions, event: &str, args: Args) -> Result<(), EmitError>;
    fn emit_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: Args,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>>;
    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>>;
    fn sockets_join(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError>;
    fn sockets_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError>;
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError>;
}

/// A selection of sockets of one namespace and flags for what is sent to them.
/// Built by `to` / `except` / `local` / `volatile` / `timeout` on the server, a
/// namespace or a socket; each call narrows or flags, then one action runs.
///
/// ```no_run
/// # fn f(io: sockio_server::SocketIo) {
/// // Everyone in "game-1" or "game-2" but the spectators, on this server only.
/// let _ = io.to(["game-1", "game-2"]).except("spectators").local().emit("tick", 42);
/// # }
/// ```
#[derive(Clone)]
pub struct BroadcastOperator {
    target: Arc<dyn BroadcastTarget>,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn check(event: &str) -> Result<(), EmitError> {
    if is_reserved_event(event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

impl BroadcastOperator {
    pub(crate) fn new(target: Arc<dyn BroadcastTarget>) -> Self {
        Self {
            target,
            opts: BroadcastOptions::default(),
        }
    }

    /// Targets the sockets in `rooms` too (union with rooms already targeted; a socket
    /// id targets that socket).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.rooms.contains(&r) {
                self.opts.rooms.push(r);
            }
        }
        self
    }

    /// Leaves out the sockets in `rooms` (a socket id leaves out that socket).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.except.contains(&r) {
                self.opts.except.push(r);
            }
        }
        self
    }

    /// Only this server's sockets: the adapter does not carry the operation to other
    /// servers.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// Drops the packet for sockets whose transport cannot write right now.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits for the answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// The options of this selection.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits `event` with `args` to every selected socket.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        check(event)?;
        self.target.emit(&self.opts, event, args.into_args()?)
    }

    /// Emits with an acknowledgement id to every selected socket and collects the first
    /// argument of each answer. Completes when every socket answered (on every server);
    /// with a [`timeout`](BroadcastOperator::timeout), fails at the deadline with the
    /// answers that came ([`BroadcastAckError::Timeout`]). A socket that disconnects
    /// first counts as not answering ([`BroadcastAckError::Incomplete`]).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, BroadcastAckError>> + Send + 'static {
        let started = check(event)
            .and_then(|()| args.into_args())
            .map(|args| self.target.emit_with_ack(&self.opts, event, args));
        async move {
            match started {
                Ok(answers) => answers.await,
                Err(e) => Err(BroadcastAckError::Emit(e)),
            }
        }
    }

    /// The selected sockets, of every server: id, handshake, rooms and data, and
    /// operations on each ([`RemoteSocket`]).
    pub fn fetch_sockets(
        &self,
    ) -> impl Future<Output = Result<Vec<RemoteSocket>, AdapterError>> + Send + 'static {
        let fetched = self.target.fetch_sockets(&self.opts);
        let target = self.target.clone();
        async move {
            Ok(fetched
                .await?
                .into_iter()
                .map(|data| RemoteSocket::new(data, target.clone()))
                .collect())
        }
    }

    /// Makes every selected socket join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.target.sockets_join(&self.opts, &rooms.into_rooms())
    }

    /// Makes every selected socket leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.target.sockets_leave(&self.opts, &rooms.into_rooms())
    }

    /// Disconnects every selected socket from the namespace (see
    /// [`Socket::disconnect`](crate::Socket::disconnect)).
    pub fn disconnect_sockets(&self) -> Result<(), AdapterError> {
        self.target.disconnect_sockets(&self.opts, false)
    }

    /// Disconnects every selected socket and closes their connections (see
    /// [`Socket::disconnect_and_close`](crate::Socket::disconnect_and_close)).
    pub fn disconnect_and_close_sockets(&self) -> Result<(), AdapterError> {
        self.target.disconnect_sockets(&self.opts, true)
    }
}

/// A socket returned by [`BroadcastOperator::fetch_sockets`], on this server or another:
/// what it is (id, handshake, rooms, data, as they were when fetched) and what can be done
/// to it wherever it is (emit, join, leave, disconnect).
#[derive(Clone)]
pub struct RemoteSocket {
    data: RemoteSocketData,
    target: Arc<dyn BroadcastTarget>,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

impl RemoteSocket {
    fn new(data: RemoteSocketData, target: Arc<dyn BroadcastTarget>) -> Self {
        Self { data, target }
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.target.clone()).to(&self.data.id)
    }

    /// The socket id.
    pub fn id(&self) -> &SocketId {
        &self.data.id
    }

    /// The handshake of its connection.
    pub fn handshake(&self) -> &HandshakeData {
        &self.data.handshake
    }

    /// Its rooms, its own id room included.
    pub fn rooms(&self) -> &[Room] {
        &self.data.rooms
    }

    /// Its `socket.data`.
    pub fn data_value(&self) -> &Value {
        &self.data.data
    }

    /// Its `socket.data` as a `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(self.data.data.clone())
    }

    /// Emits `event` to it.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.operator().emit(event, args)
    }

    /// Emits `event` to it and waits at most `timeout` for its acknowledgement (the
    /// first argument of its answer).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> impl Future<Output = Result<Value, BroadcastAckError>> + Send + 'static {
        let answers = self.operator().timeout(timeout).emit_with_ack(event, args);
        async move {
            let mut answers = answers.await?;
            Ok(answers.pop().unwrap_or(Value::Null))
        }
    }

    /// Makes it join `rooms`.
    pub fn join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.operator().sockets_join(rooms)
    }

    /// Makes it leave `rooms`.
    pub fn leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.operator().sockets_leave(rooms)
    }

    /// Disconnects it from the namespace.
    pub fn disconnect(&self) -> Result<(), AdapterError> {
        self.operator().disconnect_sockets()
    }

    /// Disconnects it and closes its connection.
    pub fn disconnect_and_close(&self) -> Result<(), AdapterError> {
        self.operator().disconnect_and_close_sockets()
    }
}

/// Writes the broadcast shortcuts of a type that has an `operator()` giving its
/// [`BroadcastOperator`]: `to` and `except`, `local`, and with `flags` also `volatile` and
/// `timeout`. Written once here for the server, a namespace and a socket.
macro_rules! broadcast_shortcuts {
    ($what:literal) => {
        /// The sockets in `rooms` (a socket id targets one client),
        #[doc = $what]
        pub fn to(&self, rooms: impl $crate::ids::IntoRooms) -> $crate::BroadcastOperator {
            self.operator().to(rooms)
        }

        /// Every socket but those in `rooms`,
        #[doc = $what]
        pub fn except(&self, rooms: impl $crate::ids::IntoRooms) -> $crate::BroadcastOperator {
            self.operator().except(rooms)
        }

        /// This server's sockets only (a cluster adapter does not carry the operation),
        #[doc = $what]
        pub fn local(&self) -> $crate::BroadcastOperator {
            self.operator().local()
        }
    };
    ($what:literal, flags) => {
        $crate::operators::broadcast_shortcuts!($what);

        /// A volatile broadcast: dropped for clients whose transport cannot write now.
        pub fn volatile(&self) -> $crate::BroadcastOperator {
            self.operator().volatile()
        }

        /// A broadcast with acknowledgements, waiting at most `timeout` for the answers.
        pub fn timeout(&self, timeout: std::time::Duration) -> $crate::BroadcastOperator {
            self.operator().timeout(timeout)
        }
    };
}
pub(crate) use broadcast_shortcuts;
