//! [`LocalSockets`]: this server's sockets of one namespace, their rooms, and delivery to
//! them — a packet encoded once and shared by every recipient.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sockio_protocol::socket::{ProtocolVersion, Value};

use crate::adapter::BroadcastOptions;
use crate::args::Args;
use crate::config::Parser;
use crate::ids::{Room, SocketId};
use crate::rooms::{Member, RoomIndex};
use crate::socket::Socket;
use crate::wire::{args_frames, Frames};

impl Member for Socket {
    fn id(&self) -> &SocketId {
        Socket::id(self)
    }
}

/// What a recipient of a broadcast with acknowledgements answered: the first argument of
/// its answer, or nothing (it disconnected first).
pub(crate) type AnswerFn = Arc<dyn Fn(Option<Value>) + Send + Sync>;

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The connected sockets of a namespace on this server and its room index.
pub(crate) struct LocalSockets {
    /// The namespace name and packet format, for encoding.
    nsp: Arc<str>,
    parser: Parser,
    sockets: RwLock<HashMap<SocketId, Socket>>,
    rooms: RoomIndex<Socket>,
}

impl LocalSockets {
    pub(crate) fn new(nsp: Arc<str>, parser: Parser) -> Self {
        Self {
            nsp,
            parser,
            sockets: RwLock::default(),
            rooms: RoomIndex::default(),
        }
    }

    /// A socket that completed its connection: in the namespace and its own room. Returns
    /// the rooms created (its own id room, private).
    pub(crate) fn add(&self, socket: &Socket) -> Vec<(Room, bool)> {
        write(&self.sockets).insert(socket.id().clone(), socket.clone());
        let created = self
            .rooms
            .add_all_reporting(socket, &[Room::from(socket.id())]);
        self.with_privacy(created)
    }

    /// Forgets `socket` (its rooms and its entry); whether the namespace is now empty,
    /// and the rooms that are gone.
    pub(crate) fn remove(&self, socket: &Socket) -> (bool, Vec<(Room, bool)>) {
        let gone = self.rooms.del_all_reporting(socket.id());
        let gone = self.with_privacy(gone);
        let mut sockets = write(&self.sockets);
        sockets.remove(socket.id());
        (sockets.is_empty(), gone)
    }

    /// Each room, and whether it is a socket's own id room (a private room).
    fn with_privacy(&self, rooms: Vec<Room>) -> Vec<(Room, bool)> {
        if rooms.is_empty() {
            return Vec::new();
        }
        let sockets = read(&self.sockets);
        rooms
            .into_iter()
            .map(|r| {
                let private = sockets.contains_key(r.as_str());
                (r, private)
            })
            .collect()
    }

    pub(crate) fn get(&self, id: &str) -> Option<Socket> {
        read(&self.sockets).get(id).cloned()
    }

    pub(crate) fn all(&self) -> Vec<Socket> {
        read(&self.sockets).values().cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        read(&self.sockets).len()
    }

    /// Returns the rooms created, each with whether it is private.
    pub(crate) fn join(&self, socket: &Socket, rooms: &[Room]) -> Vec<(Room, bool)> {
        let created = self.rooms.add_all_reporting(socket, rooms);
        self.with_privacy(created)
    }

    /// Returns the rooms that are gone, each with whether it is private.
    pub(crate) fn leave(&self, id: &SocketId, rooms: &[Room]) -> Vec<(Room, bool)> {
        let gone: Vec<Room> = rooms
            .iter()
            .filter(|room| self.rooms.del_reporting(id, room))
            .cloned()
            .collect();
        self.with_privacy(gone)
    }

    pub(crate) fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        self.rooms.member_rooms(id)
    }

    pub(crate) fn rooms(&self) -> Vec<Room> {
        self.rooms.rooms()
    }

    fn frames(&self, event: &str, id: Option<u64>, args: &mut Args) -> Frames {
        args_frames(
            &self.nsp,
            Some(event),
            id,
            args,
            ProtocolVersion::V5,
            self.parser,
        )
    }

    /// The connected sockets `opts` selects, each once.
    pub(crate) fn select(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        if opts.rooms.is_empty() && opts.except.is_empty() {
            return self.all();
        }
        let mut out = Vec::new();
        self.for_each_selected(opts, &mut |s| out.push(s.clone()));
        out
    }

    fn for_each_selected(&self, opts: &BroadcastOptions, f: &mut dyn FnMut(&Socket)) {
        // A socket a connection middleware made join a room is not reached before it is
        // connected (socket.io looks recipients up among the namespace's connected sockets).
        self.rooms
            .for_each_selected(&opts.rooms, &opts.except, &mut |s: &Socket| {
                if s.connected() {
                    f(s)
                }
            });
    }

    /// Sends `event` with `args`, encoded once, to every socket `opts` selects.
    pub(crate) fn deliver(&self, opts: &BroadcastOptions, event: &str, args: &mut Args) {
        // EVENT and ACK packets encode the same in protocols v4 and v5: encode once and
        // share the bytes with every recipient.
        let frames = self.frames(event, None, args);
        let volatile = opts.flags.volatile;
        // Queued while the index walks its room in place (queueing runs no application
        // code); sockets with outgoing listeners are served after, outside its locks,
        // since a listener may join or leave rooms.
        let mut listened: Vec<Socket> = Vec::new();
        self.for_each_selected(opts, &mut |s| {
            if s.has_outgoing_listeners() {
                listened.push(s.clone());
            } else if !volatile || s.is_writable() {
                let _ = s.send_frames(&frames);
            }
        });
        send_each(&listened, volatile, event, args, &frames);
    }

    /// Sends `event` with `args` and acknowledgement id `id` to every socket `opts`
    /// selects; `answer` gets each answer. Returns the sockets asked, and how many were
    /// not asked because they had too many acknowledgements pending.
    pub(crate) fn deliver_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &mut Args,
        id: u64,
        answer: &AnswerFn,
    ) -> (Vec<Socket>, usize) {
        let mut targets = self.select(opts);
        let selected = targets.len();
        targets.retain(|s| {
            let answer = answer.clone();
            s.register_ack(
                id,
                Box::new(move |reply| {
                    answer(
                        reply
                            .ok()
                            .map(|args| args.into_iter().next().unwrap_or(Value::Null)),
                    )
                }),
            )
            .is_ok()
        });
        let frames = self.frames(event, Some(id), args);
        send_each(&targets, opts.flags.volatile, event, args, &frames);
        let refused = selected - targets.len();
        (targets, refused)
    }
}

/// Sends `frames`, the encoding of `event` with `args`, to each of `targets`, after
/// telling their outgoing listeners.
fn send_each(targets: &[Socket], volatile: bool, event: &str, args: &Args, frames: &Frames) {
    if targets.is_empty() {
        return;
    }
    let mut values = None;
    for s in targets {
        if volatile && !s.is_writable() {
            continue;
        }
        if s.has_outgoing_listeners() {
            let values = values.get_or_insert_with(|| args.values());
            s.notify_outgoing(event, values);
        }
        let _ = s.send_frames(frames);
    }
}
