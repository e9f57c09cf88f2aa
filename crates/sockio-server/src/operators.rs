//! [`BroadcastOperator`]: selects sockets of a namespace (rooms, exceptions, flags) and
//! acts on all of them — emit, emit with acknowledgements, join, leave, disconnect, fetch.

use std::future::Future;
use std::time::Duration;

use sockio_protocol::socket::{is_reserved_event, ProtocolVersion, Value};
use tokio::sync::mpsc;

use crate::adapter::BroadcastOptions;
use crate::error::{BroadcastAckError, EmitError};
use crate::event::{Args, IntoArgs};
use crate::ids::{IntoRooms, Room};
use crate::namespace::Namespace;
use crate::socket::{args_frames, Frames, Socket};

/// A selection of sockets of one namespace and flags for what is sent to them.
/// Built by `to` / `in_` / `except` / `local` / `volatile` / `timeout` on the server,
/// a namespace or a socket; each call narrows or flags, then one action runs.
///
/// ```no_run
/// # fn f(io: sockio_server::SocketIo) {
/// // Everyone in "game-1" or "game-2" but the spectators, on this server only.
/// let _ = io.to(["game-1", "game-2"]).except("spectators").local().emit("tick", 42);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BroadcastOperator {
    ns: Namespace,
    opts: BroadcastOptions,
    timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace) -> Self {
        Self {
            ns,
            opts: BroadcastOptions::default(),
            timeout: None,
        }
    }

    /// Targets the sockets in `rooms` too (union with rooms already targeted).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.rooms.contains(&r) {
                self.opts.rooms.push(r);
            }
        }
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn in_(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
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

    /// Only this server's sockets (no effect with the in-memory adapter).
    pub fn local(mut self) -> Self {
        self.opts.local = true;
        self
    }

    /// Drops the packet for sockets whose transport cannot write right now.
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// Accepted for compatibility: compression is decided by the transport.
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits for the answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The options of this selection.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// The selected sockets of this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.ns
            .targets()
            .iter()
            .flat_map(|ns| self.select_in(ns))
            .collect()
    }

    fn select_in(&self, ns: &Namespace) -> Vec<Socket> {
        if self.opts.rooms.is_empty() && self.opts.except.is_empty() {
            return ns.sockets();
        }
        ns.adapter().select(&self.opts)
    }

    /// The selected sockets (of every server, with a cluster adapter).
    pub fn fetch_sockets(&self) -> impl Future<Output = Vec<Socket>> + Send + 'static {
        let sockets = self.sockets();
        async move { sockets }
    }

    fn check(event: &str) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        Ok(())
    }

    /// Sends `event` with `args`, encoded once, to every socket of `ns` the selection
    /// holds.
    fn deliver(&self, ns: &Namespace, event: &str, args: &mut Args) {
        // EVENT and ACK packets encode the same in protocols v4 and v5: encode once and
        // share the bytes with every recipient.
        let frames = args_frames(
            ns.name(),
            Some(event),
            None,
            args,
            ProtocolVersion::V5,
            self.ns.parser(),
        );
        let volatile = self.opts.volatile;
        // Queued while the adapter walks its room in place (queueing runs no application
        // code); sockets with outgoing listeners are served after, outside its locks,
        // since a listener may join or leave rooms.
        let mut listened: Vec<Socket> = Vec::new();
        ns.adapter().for_each_selected(&self.opts, &mut |s| {
            if s.has_outgoing_listeners() {
                listened.push(s.clone());
            } else if !volatile || s.is_writable() {
                let _ = s.send_frames(&frames);
            }
        });
        self.send_each(&listened, event, args, &frames);
    }

    /// Sends `frames`, the encoding of `event` with `args`, to each of `targets`, after
    /// telling their outgoing listeners.
    fn send_each(&self, targets: &[Socket], event: &str, args: &Args, frames: &Frames) {
        if targets.is_empty() {
            return;
        }
        let mut values = None;
        for s in targets {
            if self.opts.volatile && !s.is_writable() {
                continue;
            }
            if s.has_outgoing_listeners() {
                let values = values.get_or_insert_with(|| args.values());
                s.notify_outgoing(event, values);
            }
            let _ = s.send_frames(frames);
        }
    }

    /// Emits `event` with `args` to every selected socket.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        Self::check(event)?;
        let mut args = args.into_args()?;
        for ns in self.ns.targets() {
            self.deliver(&ns, event, &mut args);
        }
        Ok(())
    }

    /// Emits with an acknowledgement id to every selected socket and collects the first
    /// argument of each answer. Completes when every socket answered; with a
    /// [`timeout`](BroadcastOperator::timeout), fails at the deadline with the answers
    /// that came. A socket that disconnects first counts as not answering.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, BroadcastAckError>> + Send + 'static {
        let mut prepared = Self::check(event).and_then(|_| args.into_args());
        let (tx, mut rx) = mpsc::unbounded_channel::<Option<Value>>();
        let mut asked: Vec<(Socket, u64)> = Vec::new();
        if let Ok(args) = &mut prepared {
            for ns in self.ns.targets() {
                let targets = self.select_in(&ns);
                let id = ns.next_ack_id();
                for s in &targets {
                    let tx = tx.clone();
                    s.register_ack(
                        id,
                        Box::new(move |answer| {
                            let first = answer
                                .ok()
                                .map(|args| args.into_iter().next().unwrap_or(Value::Null));
                            let _ = tx.send(first);
                        }),
                    );
                    asked.push((s.clone(), id));
                }
                let frames = args_frames(
                    ns.name(),
                    Some(event),
                    Some(id),
                    args,
                    ProtocolVersion::V5,
                    self.ns.parser(),
                );
                self.send_each(&targets, event, args, &frames);
            }
        }
        drop(tx);
        let timeout = self.timeout;
        async move {
            if prepared.is_err() {
                return Err(BroadcastAckError {
                    responses: Vec::new(),
                });
            }
            let expected = asked.len();
            let mut responses = Vec::with_capacity(expected);
            let mut complete = true;
            let collect = async {
                let mut seen = 0;
                while seen < expected {
                    match rx.recv().await {
                        Some(Some(v)) => {
                            seen += 1;
                            responses.push(v);
                        }
                        Some(None) => {
                            seen += 1;
                            complete = false;
                        }
                        None => break,
                    }
                }
            };
            let in_time = match timeout {
                Some(t) => tokio::time::timeout(t, collect).await.is_ok(),
                None => {
                    collect.await;
                    true
                }
            };
            if !in_time {
                for (s, id) in &asked {
                    s.cancel_ack(*id);
                }
            }
            if in_time && complete {
                Ok(responses)
            } else {
                Err(BroadcastAckError { responses })
            }
        }
    }

    /// Makes every selected socket join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        let rooms: Vec<Room> = rooms.into_rooms();
        for s in self.sockets() {
            s.join(rooms.clone());
        }
    }

    /// Makes every selected socket leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        let rooms: Vec<Room> = rooms.into_rooms();
        for s in self.sockets() {
            s.leave(rooms.clone());
        }
    }

    /// Disconnects every selected socket (see [`Socket::disconnect`]).
    pub fn disconnect_sockets(&self, close: bool) {
        for s in self.sockets() {
            s.disconnect(close);
        }
    }
}
