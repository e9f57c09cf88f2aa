//! Events, arguments, acknowledgements and the handler registry.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sockio_protocol::socket::{from_value, to_value, Packet, Value};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::manager::Cmd;

/// The arguments of an emission.
///
/// Anything serializable is **one** argument: `socket.emit("ev", &data)`. Several
/// arguments, or none, go in an [`Args`] (see [`args!`](crate::args)).
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Result<Args, Error>;
}

/// An argument list.
///
/// ```
/// use sockio_client::{args, Args, IntoArgs, Value};
/// let list = args!["a", 1].into_args().unwrap();
/// assert_eq!(list.0, vec![Value::from("a"), Value::from(1)]);
/// assert_eq!("one".into_args().unwrap().0, vec![Value::from("one")]);
/// assert!(().into_args().unwrap().0.is_empty());
/// assert!(Args::none().0.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args(pub Vec<Value>);

impl Args {
    /// No arguments.
    pub fn none() -> Args {
        Args(Vec::new())
    }

    /// Appends a serializable argument.
    pub fn push(&mut self, arg: impl Serialize) -> Result<(), Error> {
        self.0
            .push(to_value(&arg).map_err(|e| Error::Serialize(e.message().to_owned()))?);
        Ok(())
    }

    /// A list filled by `fill` (what [`args!`](crate::args) expands to).
    pub fn build(fill: impl FnOnce(&mut Args) -> Result<(), Error>) -> BuiltArgs {
        let mut args = Args::none();
        BuiltArgs(fill(&mut args).map(|()| args))
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args(values)
    }
}

impl IntoArgs for Args {
    fn into_args(self) -> Result<Args, Error> {
        Ok(self)
    }
}

/// What [`args!`](crate::args) gives: the list, or the first serialization error.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltArgs(pub Result<Args, Error>);

impl IntoArgs for BuiltArgs {
    fn into_args(self) -> Result<Args, Error> {
        self.0
    }
}

/// One argument; `()` is no argument at all (`socket.emit("ping", ())`).
impl<T: Serialize> IntoArgs for T {
    fn into_args(self) -> Result<Args, Error> {
        if std::any::type_name::<T>() == "()" {
            return Ok(Args::none());
        }
        let value = to_value(&self).map_err(|e| Error::Serialize(e.message().to_owned()))?;
        Ok(Args(vec![value]))
    }
}

/// Builds an argument list from serializable values: `args![]`, `args!["a", 1, &data]`.
///
/// ```
/// use sockio_client::{args, IntoArgs};
/// assert_eq!(args!["a", 1, true].into_args().unwrap().0.len(), 3);
/// assert!(args![].into_args().unwrap().0.is_empty());
/// ```
#[macro_export]
macro_rules! args {
    () => { $crate::Args::build(|_| ::core::result::Result::Ok(())) };
    ($($arg:expr),+ $(,)?) => {
        $crate::Args::build(|__list| {
            $( __list.push($arg)?; )+
            ::core::result::Result::Ok(())
        })
    };
}

/// An event as a handler sees it: its name, its arguments, and the acknowledgement the
/// server asked for, if any.
///
/// Lifecycle events carry: `connect` nothing; `disconnect` the reason string;
/// `connect_error` an object `{"message": ..., "data"?: ...}`; `reconnecting` /
/// `reconnect_attempt` / `reconnect` the attempt number; `reconnect_error` and `error`
/// the error's text.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments (binary ones as [`Value::Binary`]).
    pub args: Vec<Value>,
    ack: Option<AckSender>,
}

impl Event {
    pub(crate) fn new(name: impl Into<String>, args: Vec<Value>, ack: Option<AckSender>) -> Event {
        Event {
            name: name.into(),
            args,
            ack,
        }
    }

    /// Argument `i` as a `T` (binary fields as `bytes::Bytes`).
    ///
    /// ```
    /// use sockio_client::{Event, Value};
    /// # let ev = sockio_client::Event::from_args("m", vec![Value::from("hi"), Value::from(3)]);
    /// let s: String = ev.arg(0).unwrap();
    /// let n: u32 = ev.arg(1).unwrap();
    /// assert_eq!((s.as_str(), n), ("hi", 3));
    /// assert!(ev.arg::<String>(5).is_err());
    /// ```
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, Error> {
        let v = self.args.get(i).cloned().unwrap_or(Value::Null);
        from_value(v).map_err(|e| Error::Deserialize(e.message().to_owned()))
    }

    /// All arguments as one `T`, read from the argument array (a tuple, a `Vec`, a
    /// struct of sequence form).
    ///
    /// ```
    /// use sockio_client::{Event, Value};
    /// let ev = Event::from_args("m", vec![Value::from("a"), Value::from(1)]);
    /// let (a, n): (String, i64) = ev.args_as().unwrap();
    /// assert_eq!((a.as_str(), n), ("a", 1));
    /// ```
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        from_value(Value::Array(self.args.clone()))
            .map_err(|e| Error::Deserialize(e.message().to_owned()))
    }

    /// An event built by hand (tests, forwarding).
    pub fn from_args(name: impl Into<String>, args: Vec<Value>) -> Event {
        Event::new(name, args, None)
    }

    /// Whether the server waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// The acknowledgement, to answer later or from another task.
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Answers the server's acknowledgement (once; later answers are ignored).
    pub fn ack(&self, args: impl IntoArgs) -> Result<(), Error> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }
}

/// Answers one acknowledgement request of the server. Clones share it: the first
/// answer is sent, the others are ignored.
#[derive(Debug, Clone)]
pub struct AckSender {
    nsp: String,
    id: u64,
    cmd: mpsc::UnboundedSender<Cmd>,
    sent: Arc<AtomicBool>,
}

impl AckSender {
    pub(crate) fn new(nsp: String, id: u64, cmd: mpsc::UnboundedSender<Cmd>) -> AckSender {
        AckSender {
            nsp,
            id,
            cmd,
            sent: Arc::default(),
        }
    }

    /// Sends the acknowledgement with these arguments.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), Error> {
        let args = args.into_args()?;
        if self.sent.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let packet = Packet::ack(self.nsp.clone(), self.id, args.0);
        self.cmd
            .send(Cmd::Ack(packet))
            .map_err(|_| Error::ClientClosed)
    }
}

/// A future returned by an async handler.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

#[derive(Clone)]
enum Handler {
    Sync(Arc<dyn Fn(Event) + Send + Sync>),
    Async(Arc<dyn Fn(Event) -> BoxFuture + Send + Sync>),
}

/// Identifies a registered handler, for [`Socket::off_handler`](crate::Socket::off_handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

#[derive(Clone)]
struct Entry {
    id: HandlerId,
    handler: Handler,
    once: bool,
}

/// The handlers of one socket (or a manager).
#[derive(Default)]
pub(crate) struct Handlers {
    by_name: HashMap<String, Vec<Entry>>,
    any: Vec<Entry>,
    next: u64,
}

pub(crate) type SharedHandlers = Arc<Mutex<Handlers>>;

impl Handlers {
    fn add(&mut self, name: Option<&str>, handler: Handler, once: bool) -> HandlerId {
        self.next += 1;
        let id = HandlerId(self.next);
        let entry = Entry { id, handler, once };
        match name {
            Some(n) => self.by_name.entry(n.to_owned()).or_default().push(entry),
            None => self.any.push(entry),
        }
        id
    }

    pub fn on_sync(
        &mut self,
        name: Option<&str>,
        f: impl Fn(Event) + Send + Sync + 'static,
        once: bool,
    ) -> HandlerId {
        self.add(name, Handler::Sync(Arc::new(f)), once)
    }

    pub fn on_async<F, Fut>(&mut self, name: Option<&str>, f: F, once: bool) -> HandlerId
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let f = move |ev: Event| -> BoxFuture { Box::pin(f(ev)) };
        self.add(name, Handler::Async(Arc::new(f)), once)
    }

    pub fn off(&mut self, name: &str) {
        self.by_name.remove(name);
    }

    pub fn off_id(&mut self, id: HandlerId) {
        for list in self.by_name.values_mut() {
            list.retain(|e| e.id != id);
        }
        self.any.retain(|e| e.id != id);
    }

    /// The handlers an event goes to (removing `once` ones); `any` handlers only for
    /// events of the server.
    fn take_for(&mut self, name: &str, with_any: bool) -> Vec<Handler> {
        let mut out = Vec::new();
        if let Some(list) = self.by_name.get_mut(name) {
            out.extend(list.iter().map(|e| e.handler.clone()));
            list.retain(|e| !e.once);
        }
        if with_any {
            out.extend(self.any.iter().map(|e| e.handler.clone()));
            self.any.retain(|e| !e.once);
        }
        out
    }
}

/// One event for the dispatcher task.
pub(crate) struct Dispatch {
    pub handlers: SharedHandlers,
    pub event: Event,
    /// Whether `on_any` handlers see it (events from the server, not lifecycle ones).
    pub with_any: bool,
}

/// Handler threads shared by every manager of the process.
static POOL: OnceLock<Vec<std::sync::mpsc::Sender<(Dispatch, Handle)>>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn pool() -> &'static [std::sync::mpsc::Sender<(Dispatch, Handle)>] {
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
        (0..n)
            .filter_map(|i| {
                let (tx, rx) = std::sync::mpsc::channel::<(Dispatch, Handle)>();
                let spawned = std::thread::Builder::new()
                    .name(format!("sockio-client-handlers-{i}"))
                    .spawn(move || {
                        while let Ok((d, runtime)) = rx.recv() {
                            run(d, &runtime);
                        }
                    });
                match spawned {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        tracing::error!("cannot start a handler thread: {e}");
                        None
                    }
                }
            })
            .collect()
    })
}

/// Where a manager's events go: one of the handler threads, always the same one, so
/// that its events are handled in order. Sync handlers run there in turn (one that
/// blocks delays the events of the managers on that thread, never a connection); async
/// handlers are spawned as tasks on the manager's runtime.
pub(crate) struct Dispatcher {
    tx: Option<std::sync::mpsc::Sender<(Dispatch, Handle)>>,
    runtime: Handle,
}

impl Dispatcher {
    pub fn new(runtime: Handle) -> Dispatcher {
        let pool = pool();
        let tx = if pool.is_empty() {
            None
        } else {
            Some(pool[NEXT.fetch_add(1, Ordering::Relaxed) % pool.len()].clone())
        };
        Dispatcher { tx, runtime }
    }

    pub fn send(&self, d: Dispatch) {
        match &self.tx {
            Some(tx) => {
                let _ = tx.send((d, self.runtime.clone()));
            }
            // No thread could be started: run on the runtime's blocking pool.
            None => {
                let runtime = self.runtime.clone();
                self.runtime.spawn_blocking(move || run(d, &runtime));
            }
        }
    }
}

fn run(d: Dispatch, runtime: &Handle) {
    let handlers = match d.handlers.lock() {
        Ok(mut h) => h.take_for(&d.event.name, d.with_any),
        Err(_) => return,
    };
    for h in handlers {
        match h {
            Handler::Sync(f) => {
                let ev = d.event.clone();
                // A panicking handler must not take the others down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(ev)));
            }
            Handler::Async(f) => {
                runtime.spawn(f(d.event.clone()));
            }
        }
    }
}
