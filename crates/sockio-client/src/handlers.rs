//! Event handlers: the registry of a socket's (or a manager's) handlers, and the
//! handler threads that run them off the connection's task.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::runtime::Handle;

use crate::event::Event;

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
