//! An in-process cluster: a bus that connects the adapters of several servers running in
//! one test, standing in for Redis. It proves the `Adapter` trait carries every cluster
//! operation before any Redis code exists.
//!
//! Every message crosses the bus as bytes: the envelope is turned into a
//! `sockio::server::Value` with serde, written as a Socket.IO msgpack packet, read back
//! and deserialized on the receiving node — so whatever the trait hands over must really
//! be serializable, binary included.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sockio::protocol::socket::{decode_msgpack, encode_msgpack, Packet, PacketData};
use sockio::server::adapter::{
    gather_replies, AckReply, AckSink, Adapter, BoxFuture, BroadcastOptions, NamespaceHandle,
    RemoteSocketData,
};
use sockio::server::{from_value, to_value, AdapterError, Args, BroadcastAckError, Room, Value};
use tokio::sync::mpsc;

/// How long requests wait for the other nodes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Message {
    Broadcast {
        opts: BroadcastOptions,
        event: String,
        args: Vec<Value>,
    },
    BroadcastWithAck {
        request: u64,
        opts: BroadcastOptions,
        event: String,
        args: Vec<Value>,
    },
    ClientCount {
        request: u64,
        count: usize,
    },
    Ack {
        request: u64,
        value: Value,
    },
    FetchSockets {
        request: u64,
        opts: BroadcastOptions,
    },
    Sockets {
        request: u64,
        sockets: Vec<RemoteSocketData>,
    },
    AddSockets {
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    DelSockets {
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    DisconnectSockets {
        opts: BroadcastOptions,
        close: bool,
    },
    AllRooms {
        request: u64,
    },
    Rooms {
        request: u64,
        rooms: Vec<Room>,
    },
    ServerSide {
        args: Vec<Value>,
    },
    ServerSideWithAck {
        request: u64,
        args: Vec<Value>,
    },
    ServerSideAnswer {
        request: u64,
        value: Value,
    },
}

/// A message on the bus: who sent it, for whom (everyone when `None`), in which
/// namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope {
    from: u64,
    to: Option<u64>,
    nsp: String,
    message: Message,
}

fn to_bytes(envelope: &Envelope) -> Bytes {
    let value = to_value(envelope).expect("an envelope serializes");
    encode_msgpack(&Packet::event("/", "bus", vec![value]))
}

fn from_bytes(bytes: &[u8]) -> Option<Envelope> {
    let packet = decode_msgpack(bytes).ok()?;
    match packet.data {
        PacketData::Event { mut args, .. } if !args.is_empty() => from_value(args.remove(0)).ok(),
        _ => None,
    }
}

struct Member {
    node: u64,
    nsp: String,
    tx: mpsc::UnboundedSender<Bytes>,
    /// A frozen node receives nothing (a node that stopped answering).
    frozen: Arc<AtomicBool>,
}

/// The bus all nodes' adapters share.
#[derive(Clone, Default)]
pub struct Bus {
    members: Arc<Mutex<Vec<Member>>>,
    next_node: Arc<AtomicU64>,
}

impl Bus {
    pub fn new() -> Bus {
        Bus::default()
    }

    /// A node: its adapter factory (for `SocketIo::builder().adapter(…)`), and a switch
    /// to freeze it.
    pub fn node(&self) -> Node {
        Node {
            bus: self.clone(),
            id: self.next_node.fetch_add(1, Ordering::Relaxed),
            frozen: Arc::default(),
        }
    }

    fn publish(&self, envelope: &Envelope) {
        let bytes = to_bytes(envelope);
        let members = self.members.lock().unwrap();
        for m in members.iter() {
            if m.nsp != envelope.nsp || m.node == envelope.from {
                continue;
            }
            if envelope.to.is_some_and(|to| to != m.node) {
                continue;
            }
            if m.frozen.load(Ordering::Acquire) {
                continue;
            }
            let _ = m.tx.send(bytes.clone());
        }
    }

    fn count(&self, nsp: &str) -> usize {
        self.members
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.nsp == nsp)
            .count()
    }
}

/// One server of the cluster.
#[derive(Clone)]
pub struct Node {
    bus: Bus,
    id: u64,
    frozen: Arc<AtomicBool>,
}

impl Node {
    /// The adapter of namespace `nsp` on this node.
    pub fn adapter(&self, nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(ChannelAdapter {
            bus: self.bus.clone(),
            node: self.id,
            nsp: nsp.to_owned(),
            frozen: self.frozen.clone(),
            pending: Arc::default(),
            next_request: Arc::default(),
        })
    }

    /// Stops this node receiving anything (it keeps counting as a server).
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Release);
    }
}

/// What a request waits for.
enum Pending {
    Acks(AckSink),
    Sockets(mpsc::UnboundedSender<Vec<RemoteSocketData>>),
    Rooms(mpsc::UnboundedSender<Vec<Room>>),
    Answers(mpsc::UnboundedSender<Value>),
}

type PendingMap = Arc<Mutex<HashMap<u64, Pending>>>;
/// One reply per other node, or why not all came (with those that did).
type Replies<T> = Result<Vec<T>, (AdapterError, Vec<T>)>;
/// Sends a message to one node.
type Reply = Arc<dyn Fn(u64, Message) + Send + Sync>;

struct ChannelAdapter {
    bus: Bus,
    node: u64,
    nsp: String,
    frozen: Arc<AtomicBool>,
    pending: PendingMap,
    next_request: Arc<AtomicU64>,
}

impl ChannelAdapter {
    fn send(&self, to: Option<u64>, message: Message) {
        self.bus.publish(&Envelope {
            from: self.node,
            to,
            nsp: self.nsp.clone(),
            message,
        });
    }

    fn request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends the request `message` makes of a new request id and waits for one reply
    /// from each other node (what `pending` makes of the sender), within `timeout`.
    fn ask<T: Send + 'static>(
        &self,
        pending: fn(mpsc::UnboundedSender<T>) -> Pending,
        message: impl FnOnce(u64) -> Message,
        timeout: Duration,
    ) -> BoxFuture<'static, Replies<T>> {
        let request = self.request_id();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending.lock().unwrap().insert(request, pending(tx));
        self.send(None, message(request));
        let expected = self.bus.count(&self.nsp).saturating_sub(1);
        let pending = self.pending.clone();
        Box::pin(async move {
            let replies = gather_replies(&mut rx, expected, timeout).await;
            pending.lock().unwrap().remove(&request);
            replies
        })
    }
}

/// Applies what comes from the bus to this node's namespace, and answers requests.
fn handle(envelope: Envelope, ns: &NamespaceHandle, pending: &PendingMap, reply: &Reply) {
    let from = envelope.from;
    match envelope.message {
        Message::Broadcast { opts, event, args } => ns.broadcast(&opts, &event, Args::from(args)),
        Message::BroadcastWithAck {
            request,
            opts,
            event,
            args,
        } => {
            let acks = reply.clone();
            let count = ns.broadcast_with_ack(&opts, &event, Args::from(args), move |value| {
                acks(from, Message::Ack { request, value })
            });
            reply(from, Message::ClientCount { request, count });
        }
        Message::ClientCount { request, count } => {
            if let Some(Pending::Acks(sink)) = pending.lock().unwrap().get(&request) {
                sink.send(AckReply::ClientCount(count));
            }
        }
        Message::Ack { request, value } => {
            if let Some(Pending::Acks(sink)) = pending.lock().unwrap().get(&request) {
                sink.send(AckReply::Ack(value));
            }
        }
        Message::FetchSockets { request, opts } => {
            let sockets = ns.fetch_sockets(&opts);
            reply(from, Message::Sockets { request, sockets });
        }
        Message::Sockets { request, sockets } => {
            if let Some(Pending::Sockets(tx)) = pending.lock().unwrap().get(&request) {
                let _ = tx.send(sockets);
            }
        }
        Message::AddSockets { opts, rooms } => ns.add_sockets(&opts, &rooms),
        Message::DelSockets { opts, rooms } => ns.del_sockets(&opts, &rooms),
        Message::DisconnectSockets { opts, close } => ns.disconnect_sockets(&opts, close),
        Message::AllRooms { request } => {
            let rooms = ns.rooms();
            reply(from, Message::Rooms { request, rooms });
        }
        Message::Rooms { request, rooms } => {
            if let Some(Pending::Rooms(tx)) = pending.lock().unwrap().get(&request) {
                let _ = tx.send(rooms);
            }
        }
        Message::ServerSide { args } => ns.server_side_emit(args),
        Message::ServerSideWithAck { request, args } => {
            if let Some(value) = ns.server_side_emit_with_ack(args) {
                reply(from, Message::ServerSideAnswer { request, value });
            }
        }
        Message::ServerSideAnswer { request, value } => {
            if let Some(Pending::Answers(tx)) = pending.lock().unwrap().get(&request) {
                let _ = tx.send(value);
            }
        }
    }
}

impl Adapter for ChannelAdapter {
    fn init(&self, namespace: NamespaceHandle) -> BoxFuture<'static, Result<(), AdapterError>> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        self.bus.members.lock().unwrap().push(Member {
            node: self.node,
            nsp: self.nsp.clone(),
            tx,
            frozen: self.frozen.clone(),
        });
        let pending = self.pending.clone();
        let bus = self.bus.clone();
        let (node, nsp) = (self.node, self.nsp.clone());
        tokio::spawn(async move {
            let reply: Reply = Arc::new(move |to: u64, message: Message| {
                bus.publish(&Envelope {
                    from: node,
                    to: Some(to),
                    nsp: nsp.clone(),
                    message,
                })
            });
            while let Some(bytes) = rx.recv().await {
                match from_bytes(&bytes) {
                    Some(envelope) => handle(envelope, &namespace, &pending, &reply),
                    None => panic!("the bus carried bytes that do not decode"),
                }
            }
        });
        Box::pin(async { Ok(()) })
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let (node, nsp) = (self.node, self.nsp.clone());
        self.bus
            .members
            .lock()
            .unwrap()
            .retain(|m| !(m.node == node && m.nsp == nsp));
        Box::pin(async {})
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let n = self.bus.count(&self.nsp);
        Box::pin(async move { Ok(n) })
    }

    fn broadcast(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &Args,
    ) -> Result<(), AdapterError> {
        self.send(
            None,
            Message::Broadcast {
                opts: opts.clone(),
                event: event.to_owned(),
                args: args.values().into_owned(),
            },
        );
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &Args,
        replies: AckSink,
    ) -> Result<(), AdapterError> {
        let request = self.request_id();
        self.pending
            .lock()
            .unwrap()
            .insert(request, Pending::Acks(replies));
        let pending = self.pending.clone();
        // Kept a little past the broadcast's own timeout: the emitting server decides when
        // it stops waiting (a sink dropped first would end the wait as "incomplete"
        // rather than "timed out" when both timers fire in the same tick).
        let timeout = Duration::from_millis(opts.flags.timeout.unwrap_or(5000));
        tokio::spawn(async move {
            tokio::time::sleep(timeout + Duration::from_millis(500)).await;
            pending.lock().unwrap().remove(&request);
        });
        self.send(
            None,
            Message::BroadcastWithAck {
                request,
                opts: opts.clone(),
                event: event.to_owned(),
                args: args.values().into_owned(),
            },
        );
        Ok(())
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let opts = opts.clone();
        let message = |request| Message::FetchSockets { request, opts };
        let replies = self.ask(Pending::Sockets, message, REQUEST_TIMEOUT);
        Box::pin(async move {
            let lists = replies.await.map_err(|(e, _)| e)?;
            Ok(lists.into_iter().flatten().collect())
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.send(
            None,
            Message::AddSockets {
                opts: opts.clone(),
                rooms: rooms.to_vec(),
            },
        );
        Ok(())
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.send(
            None,
            Message::DelSockets {
                opts: opts.clone(),
                rooms: rooms.to_vec(),
            },
        );
        Ok(())
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        self.send(
            None,
            Message::DisconnectSockets {
                opts: opts.clone(),
                close,
            },
        );
        Ok(())
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let message = |request| Message::AllRooms { request };
        let replies = self.ask(Pending::Rooms, message, REQUEST_TIMEOUT);
        Box::pin(async move {
            let lists = replies.await.map_err(|(e, _)| e)?;
            Ok(lists.into_iter().flatten().collect())
        })
    }

    fn server_side_emit(&self, args: Vec<Value>) -> Result<(), AdapterError> {
        self.send(None, Message::ServerSide { args });
        Ok(())
    }

    fn server_side_emit_with_ack(
        &self,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>> {
        let message = |request| Message::ServerSideWithAck { request, args };
        let replies = self.ask(Pending::Answers, message, timeout);
        Box::pin(async move {
            replies
                .await
                .map_err(|(error, responses)| BroadcastAckError::Adapter { error, responses })
        })
    }
}
