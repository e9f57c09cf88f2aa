//! A namespace socket: events, emits, acknowledgements, the send buffer.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio_protocol::socket::{is_reserved_event, Packet, Value};
use tokio::sync::oneshot;

use crate::engine::CloseReason;
use crate::error::Error;
use crate::event::{Dispatch, Event, HandlerId, IntoArgs, SharedHandlers};
use crate::manager::{lock, Auth, Cmd, Manager};

/// Per-socket options: auth, at-least-once delivery.
#[derive(Debug, Clone, Default)]
pub struct SocketOptions {
    /// The CONNECT payload.
    pub auth: Auth,
    /// How many times an emit is sent again when its acknowledgement does not come
    /// within [`ack_timeout`](Self::ack_timeout) (0: no retries, emits are sent once).
    pub retries: u32,
    /// The default acknowledgement timeout (`None`: wait forever, unless the emit says).
    pub ack_timeout: Option<Duration>,
}

type AckResult = Result<Vec<Value>, Error>;

/// How a namespace connection ended, for [`Socket::on_closed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closing {
    /// The connection went away: the socket stays active and reconnects.
    Lost,
    /// The server (or closing the manager) ended it: the socket is inactive.
    Ended,
}

#[derive(Default)]
struct State {
    connected: bool,
    active: bool,
    ever_connected: bool,
    id: Option<String>,
    buffer: VecDeque<Packet>,
    next_ack: u64,
    acks: HashMap<u64, oneshot::Sender<AckResult>>,
    waiters: Vec<oneshot::Sender<Result<(), Error>>>,
}

pub(crate) struct SocketInner {
    nsp: String,
    manager: Manager,
    handlers: SharedHandlers,
    state: Mutex<State>,
    opts: SocketOptions,
    /// Emits with retries go one at a time, in order.
    reliable: tokio::sync::Mutex<()>,
}

impl Drop for SocketInner {
    fn drop(&mut self) {
        let _ = self.manager.inner.cmd.send(Cmd::Dropped {
            nsp: self.nsp.clone(),
        });
    }
}

/// A Socket.IO socket: one namespace on a [`Manager`]'s connection.
///
/// Cloning gives another handle to the same socket. When the last handle is dropped,
/// the socket leaves its namespace (and the connection closes if nothing else uses it):
/// keep a handle for as long as the socket should live.
///
/// ```no_run
/// use sockio_client::{args, ClientBuilder, Event};
/// use std::time::Duration;
///
/// # async fn f() -> Result<(), sockio_client::Error> {
/// let socket = ClientBuilder::new("http://localhost:3000/chat")
///     .on("message", |ev: Event| println!("got {:?}", ev.args))
///     .connect()
///     .await?;
/// socket.emit("hello", "world")?;
/// socket.emit("two", args!["a", 2])?;
/// let answer = socket.timeout(Duration::from_secs(2)).emit_with_ack("ping", ()).await?;
/// println!("{answer:?}");
/// socket.disconnect();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("nsp", &self.inner.nsp)
            .field("id", &self.id())
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(nsp: String, manager: Manager, opts: SocketOptions) -> Socket {
        Socket {
            inner: Arc::new(SocketInner {
                nsp,
                manager,
                handlers: Arc::default(),
                state: Mutex::default(),
                opts,
                reliable: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub(crate) fn from_inner(inner: Arc<SocketInner>) -> Socket {
        Socket { inner }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.nsp
    }

    /// The socket id the server gave, while connected.
    pub fn id(&self) -> Option<String> {
        self.state().id.clone()
    }

    /// Whether the namespace is connected.
    pub fn connected(&self) -> bool {
        self.state().connected
    }

    /// Whether the socket wants to be connected (it reconnects while active).
    pub fn is_active(&self) -> bool {
        self.state().active
    }

    /// The manager whose connection carries this socket.
    pub fn io(&self) -> Manager {
        self.inner.manager.clone()
    }

    pub(crate) fn auth(&self) -> Auth {
        self.inner.opts.auth.clone()
    }

    // -- handlers ------------------------------------------------------------------------

    /// Adds a handler of `event` (several may be added; each gets the event). Lifecycle
    /// events: `connecting`, `connect`, `connect_error`, `connect_failed`, `disconnect`.
    pub fn on(&self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) -> HandlerId {
        lock(&self.inner.handlers).on_sync(Some(event), handler, false)
    }

    /// Adds an async handler: each event runs it in its own task.
    pub fn on_async<F, Fut>(&self, event: &str, handler: F) -> HandlerId
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers).on_async(Some(event), handler, false)
    }

    /// Adds a handler that runs for the next `event` only.
    pub fn once(&self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) -> HandlerId {
        lock(&self.inner.handlers).on_sync(Some(event), handler, true)
    }

    /// Adds a handler of every event the server emits (not the lifecycle ones).
    pub fn on_any(&self, handler: impl Fn(Event) + Send + Sync + 'static) -> HandlerId {
        lock(&self.inner.handlers).on_sync(None, handler, false)
    }

    /// Removes every handler of `event`.
    pub fn off(&self, event: &str) {
        lock(&self.inner.handlers).off(event);
    }

    /// Removes one handler.
    pub fn off_handler(&self, id: HandlerId) {
        lock(&self.inner.handlers).off_id(id);
    }

    pub(crate) fn emit_local(&self, name: &str, args: Vec<Value>) {
        self.dispatch(Event::new(name, args, None), false);
    }

    pub(crate) fn deliver(&self, event: Event) {
        self.dispatch(event, true);
    }

    fn dispatch(&self, event: Event, with_any: bool) {
        self.inner.manager.inner.dispatch.send(Dispatch {
            handlers: self.inner.handlers.clone(),
            event,
            with_any,
        });
    }

    // -- connection ----------------------------------------------------------------------

    /// Connects (or reconnects after [`disconnect`](Self::disconnect)) in the background;
    /// `connect` or `connect_error` follows.
    pub fn connect(&self) {
        {
            let mut st = self.state();
            if st.active {
                return;
            }
            st.active = true;
        }
        self.emit_local("connecting", vec![]);
        let _ = self
            .inner
            .manager
            .inner
            .cmd
            .send(Cmd::Connect(self.inner.nsp.clone()));
    }

    /// Connects and waits for the outcome: `Ok` on `connect`, an error on a refusal by
    /// the server, when reconnection gives up, or when the connection fails and
    /// reconnection is off.
    pub async fn connect_and_wait(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.state();
            if st.connected {
                return Ok(());
            }
            st.waiters.push(tx);
        }
        self.connect();
        rx.await.unwrap_or(Err(Error::ClientClosed))
    }

    /// Leaves the namespace (`io client disconnect`); it stays disconnected until
    /// [`connect`](Self::connect). The connection closes when no socket uses it.
    pub fn disconnect(&self) {
        // Done here, at once, so that what follows (a `connect()`, an emit) sees it; the
        // connection's task sends the DISCONNECT.
        let (was_connected, acks, waiters) = {
            let mut st = self.state();
            let was = st.connected;
            st.connected = false;
            st.active = false;
            st.id = None;
            let acks: Vec<_> = st.acks.drain().map(|(_, tx)| tx).collect();
            (was, acks, std::mem::take(&mut st.waiters))
        };
        for tx in acks {
            let _ = tx.send(Err(Error::Disconnected));
        }
        for w in waiters {
            let _ = w.send(Err(Error::Disconnected));
        }
        if was_connected {
            self.emit_local("disconnect", vec![Value::from("io client disconnect")]);
        }
        let _ = self.inner.manager.inner.cmd.send(Cmd::Disconnect {
            nsp: self.inner.nsp.clone(),
        });
    }

    /// The server accepted the namespace: the buffered packets to send, or `None` when
    /// the socket does not want it any more.
    pub(crate) fn on_connected(&self, id: String) -> Option<Vec<Packet>> {
        let (buffered, waiters) = {
            let mut st = self.state();
            if !st.active {
                return None;
            }
            st.connected = true;
            st.ever_connected = true;
            st.id = Some(id);
            (
                st.buffer.drain(..).collect::<Vec<_>>(),
                std::mem::take(&mut st.waiters),
            )
        };
        self.emit_local("connect", vec![]);
        for w in waiters {
            let _ = w.send(Ok(()));
        }
        Some(buffered)
    }

    pub(crate) fn on_refused(&self, message: String, data: Option<Value>) {
        let waiters = {
            let mut st = self.state();
            st.active = false;
            std::mem::take(&mut st.waiters)
        };
        let mut payload = vec![("message".to_owned(), Value::from(message.as_str()))];
        if let Some(d) = &data {
            payload.push(("data".to_owned(), d.clone()));
        }
        let payload = Value::Object(payload);
        self.emit_local("connect_error", vec![payload.clone()]);
        // socket.io-client 2.x (and the seed documentation) call a refusal `error`.
        self.emit_local("error", vec![payload]);
        for w in waiters {
            let _ = w.send(Err(Error::ConnectRefused {
                message: message.clone(),
                data: data.clone(),
            }));
        }
    }

    /// The connection could not be opened.
    pub(crate) fn on_transport_error(&self, reason: &CloseReason, final_error: bool) {
        let text = reason.to_string();
        let payload = Value::Object(vec![("message".to_owned(), Value::from(text.as_str()))]);
        self.emit_local("connect_error", vec![payload]);
        if final_error {
            self.give_up(Error::Closed(reason.clone()));
        }
    }

    /// Reconnection stopped.
    pub(crate) fn give_up(&self, err: Error) {
        let (was_active, ever, waiters) = {
            let mut st = self.state();
            let was = st.active;
            st.active = false;
            (was, st.ever_connected, std::mem::take(&mut st.waiters))
        };
        if was_active && !ever && err == Error::ConnectFailed {
            self.emit_local("connect_failed", vec![]);
        }
        for w in waiters {
            let _ = w.send(Err(err.clone()));
        }
    }

    /// The namespace disconnected.
    pub(crate) fn on_closed(&self, reason: &str, how: Closing) {
        let (was_connected, acks, waiters) = {
            let mut st = self.state();
            let was = st.connected;
            st.connected = false;
            st.id = None;
            let waiters = if how == Closing::Ended {
                st.active = false;
                std::mem::take(&mut st.waiters)
            } else {
                Vec::new()
            };
            let acks: Vec<_> = st.acks.drain().map(|(_, tx)| tx).collect();
            (was, acks, waiters)
        };
        for tx in acks {
            let _ = tx.send(Err(Error::Disconnected));
        }
        for w in waiters {
            let _ = w.send(Err(Error::Disconnected));
        }
        if was_connected {
            self.emit_local("disconnect", vec![Value::from(reason)]);
        }
    }

    pub(crate) fn buffer(&self, packet: Packet) {
        self.state().buffer.push_back(packet);
    }

    pub(crate) fn resolve_ack(&self, id: u64, args: Vec<Value>) {
        if let Some(tx) = self.state().acks.remove(&id) {
            let _ = tx.send(Ok(args));
        }
    }

    // -- emitting ------------------------------------------------------------------------

    /// Emits `event` with `args` (one serializable value, or [`args!`](crate::args)).
    /// While disconnected the packet waits in the send buffer; with
    /// [`SocketOptions::retries`] it is sent until acknowledged.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        self.emitter().emit(event, args)
    }

    /// Emits `message` (socket.io's `send`).
    pub fn send(&self, args: impl IntoArgs) -> Result<(), Error> {
        self.emit("message", args)
    }

    /// An emit that is dropped instead of buffered while disconnected.
    pub fn volatile(&self) -> Emitter<'_> {
        Emitter {
            volatile: true,
            ..self.emitter()
        }
    }

    /// An emit whose acknowledgement must come within `timeout`.
    pub fn timeout(&self, timeout: Duration) -> Emitter<'_> {
        Emitter {
            timeout: Some(timeout),
            ..self.emitter()
        }
    }

    /// Emits and waits for the server's acknowledgement (with the socket's default
    /// timeout, if any).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, Error>> + Send + 'static {
        self.emitter().emit_with_ack(event, args)
    }

    /// Emits and calls `callback` with the acknowledgement's arguments (or the error).
    pub fn emit_with_ack_cb(
        &self,
        event: &str,
        args: impl IntoArgs,
        callback: impl FnOnce(Result<Vec<Value>, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        self.emitter().emit_with_ack_cb(event, args, callback)
    }

    fn emitter(&self) -> Emitter<'_> {
        Emitter {
            socket: self,
            volatile: false,
            timeout: self.inner.opts.ack_timeout,
        }
    }

    fn send_packet(&self, packet: Packet, volatile: bool) {
        let mut st = self.state();
        if st.connected {
            let _ = self
                .inner
                .manager
                .inner
                .cmd
                .send(Cmd::Packet { packet, volatile });
        } else if !volatile {
            st.buffer.push_back(packet);
        }
    }

    fn register_ack(&self) -> (u64, oneshot::Receiver<AckResult>) {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state();
        let id = st.next_ack;
        st.next_ack += 1;
        st.acks.insert(id, tx);
        (id, rx)
    }

    fn forget_ack(&self, id: u64) {
        self.state().acks.remove(&id);
    }

    /// Registers the acknowledgement and sends (or buffers) the packet, now.
    fn start_call(
        &self,
        event: &str,
        args: Vec<Value>,
        volatile: bool,
    ) -> (u64, oneshot::Receiver<AckResult>) {
        let (id, rx) = self.register_ack();
        self.send_packet(
            Packet::event(self.inner.nsp.clone(), event, args).with_id(id),
            volatile,
        );
        (id, rx)
    }

    async fn wait_call(
        &self,
        id: u64,
        rx: oneshot::Receiver<AckResult>,
        timeout: Option<Duration>,
    ) -> AckResult {
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, rx)
                .await
                .map_err(|_| Error::Timeout),
            None => Ok(rx.await),
        };
        match result {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::ClientClosed),
            Err(e) => {
                self.forget_ack(id);
                Err(e)
            }
        }
    }

    async fn call(
        &self,
        event: &str,
        args: Vec<Value>,
        volatile: bool,
        timeout: Option<Duration>,
    ) -> AckResult {
        let (id, rx) = self.start_call(event, args, volatile);
        self.wait_call(id, rx, timeout).await
    }

    /// At-least-once: sends until acknowledged, at most `1 + retries` times.
    async fn call_reliably(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> AckResult {
        let _turn = self.inner.reliable.lock().await;
        let retries = self.inner.opts.retries;
        let mut tries = 0;
        loop {
            match self.call(event, args.clone(), false, timeout).await {
                Ok(r) => return Ok(r),
                Err(Error::Disconnected) if self.is_active() => {
                    // Lost with the connection: sent again (buffered) once back.
                }
                Err(Error::Timeout) if tries < retries => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

/// An emit with options: [`Socket::volatile`], [`Socket::timeout`].
#[derive(Clone, Copy)]
pub struct Emitter<'a> {
    socket: &'a Socket,
    volatile: bool,
    timeout: Option<Duration>,
}

impl Emitter<'_> {
    /// Drops the emit instead of buffering it while disconnected.
    pub fn volatile(self) -> Self {
        Emitter {
            volatile: true,
            ..self
        }
    }

    /// Sets the acknowledgement timeout.
    pub fn timeout(self, timeout: Duration) -> Self {
        Emitter {
            timeout: Some(timeout),
            ..self
        }
    }

    fn check(&self, event: &str, args: impl IntoArgs) -> Result<Vec<Value>, Error> {
        if is_reserved_event(event) {
            return Err(Error::ReservedEvent(event.to_owned()));
        }
        if self
            .socket
            .inner
            .manager
            .inner
            .closed
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(Error::ClientClosed);
        }
        Ok(args.into_args()?.0)
    }

    /// Emits without waiting for an acknowledgement.
    pub fn emit(self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        let args = self.check(event, args)?;
        let socket = self.socket;
        if socket.inner.opts.retries > 0 && !self.volatile {
            let socket = socket.clone();
            let event = event.to_owned();
            let timeout = self.timeout;
            tokio::spawn(async move {
                let _ = socket.call_reliably(&event, args, timeout).await;
            });
            return Ok(());
        }
        socket.send_packet(
            Packet::event(socket.inner.nsp.clone(), event, args),
            self.volatile,
        );
        Ok(())
    }

    /// Emits (now) and gives a future of the acknowledgement: its arguments,
    /// [`Error::Timeout`], or [`Error::Disconnected`].
    pub fn emit_with_ack(
        self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, Error>> + Send + 'static {
        let checked = self.check(event, args);
        let socket = self.socket.clone();
        let reliable = socket.inner.opts.retries > 0 && !self.volatile;
        let (volatile, timeout) = (self.volatile, self.timeout);
        let event = event.to_owned();
        let started = match &checked {
            Ok(args) if !reliable => Some(socket.start_call(&event, args.clone(), volatile)),
            _ => None,
        };
        async move {
            let args = checked?;
            match started {
                Some((id, rx)) => socket.wait_call(id, rx, timeout).await,
                None => socket.call_reliably(&event, args, timeout).await,
            }
        }
    }

    /// Emits and calls `callback` with the acknowledgement (or the error).
    pub fn emit_with_ack_cb(
        self,
        event: &str,
        args: impl IntoArgs,
        callback: impl FnOnce(Result<Vec<Value>, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        if is_reserved_event(event) {
            return Err(Error::ReservedEvent(event.to_owned()));
        }
        let ack = self.emit_with_ack(event, args);
        tokio::spawn(async move { callback(ack.await) });
        Ok(())
    }
}
