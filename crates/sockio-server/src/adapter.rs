//! Adapters: where a namespace keeps its rooms, and how its broadcasts reach sockets.
//!
//! [`Adapter`] is the boundary a cluster adapter (Redis) implements to carry every
//! operation across servers; [`LocalAdapter`] is the in-memory one. Its room index is
//! split in shards, each behind its own read-write lock, so concurrent broadcasts only
//! share read locks and joins elsewhere do not stop them.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::RwLock;

use crate::ids::{Room, SocketId};

/// Which sockets an operation targets: those in any of `rooms` (all when empty) and in
/// none of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Excluded rooms (a socket id excludes that socket).
    pub except: Vec<Room>,
    /// Only this server's sockets (no cluster fan-out).
    pub local: bool,
    /// Drop the packet for sockets whose transport cannot write right now.
    pub volatile: bool,
}

/// Room membership of one namespace, as the server sees it. Implementations decide how
/// far their view reaches; the local one holds this server's sockets.
pub trait Adapter: Send + Sync + 'static {
    /// Adds socket `id` to `rooms`.
    fn add_all(&self, id: &SocketId, rooms: &[Room]);
    /// Removes socket `id` from `room`.
    fn del(&self, id: &SocketId, room: &Room);
    /// Removes socket `id` from every room.
    fn del_all(&self, id: &SocketId);
    /// The rooms of socket `id`.
    fn socket_rooms(&self, id: &SocketId) -> Vec<Room>;
    /// Every room with at least one socket.
    fn rooms(&self) -> Vec<Room>;
    /// The members of `room`.
    fn room_members(&self, room: &Room) -> Vec<SocketId>;
    /// The ids of the sockets `opts` selects, each once. `all` lists every socket of the
    /// namespace (used when `opts.rooms` is empty).
    fn select(
        &self,
        opts: &BroadcastOptions,
        all: &mut dyn Iterator<Item = SocketId>,
    ) -> Vec<SocketId>;
    /// Calls `f` with each socket id `opts` selects, each once, without collecting them
    /// (the broadcast path). The default collects with [`Adapter::select`].
    fn for_each_selected(
        &self,
        opts: &BroadcastOptions,
        all: &mut dyn Iterator<Item = SocketId>,
        f: &mut dyn FnMut(&SocketId),
    ) {
        for id in self.select(opts, all) {
            f(&id);
        }
    }
    /// How many servers share this namespace (1 for a local adapter).
    fn server_count(&self) -> usize {
        1
    }
}

const SHARDS: usize = 16;

/// The in-memory adapter: rooms of this server only.
pub struct LocalAdapter {
    rooms: Vec<RwLock<HashMap<Room, HashSet<SocketId>>>>,
    sids: Vec<RwLock<HashMap<SocketId, HashSet<Room>>>>,
    hasher: RandomState,
}

impl Default for LocalAdapter {
    fn default() -> Self {
        Self {
            rooms: (0..SHARDS).map(|_| RwLock::default()).collect(),
            sids: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl LocalAdapter {
    fn shard(&self, s: &str) -> usize {
        (self.hasher.hash_one(s) as usize) % SHARDS
    }

    fn rooms_of(&self, room: &str) -> &RwLock<HashMap<Room, HashSet<SocketId>>> {
        &self.rooms[self.shard(room)]
    }

    fn sids_of(&self, id: &str) -> &RwLock<HashMap<SocketId, HashSet<Room>>> {
        &self.sids[self.shard(id)]
    }

    fn is_in_any(&self, id: &SocketId, rooms: &[Room]) -> bool {
        let shard = read(self.sids_of(id));
        shard
            .get(id)
            .is_some_and(|mine| rooms.iter().any(|r| mine.contains(r)))
    }
}

impl Adapter for LocalAdapter {
    fn add_all(&self, id: &SocketId, rooms: &[Room]) {
        write(self.sids_of(id))
            .entry(id.clone())
            .or_default()
            .extend(rooms.iter().cloned());
        for room in rooms {
            write(self.rooms_of(room))
                .entry(room.clone())
                .or_default()
                .insert(id.clone());
        }
    }

    fn del(&self, id: &SocketId, room: &Room) {
        if let Some(mine) = write(self.sids_of(id)).get_mut(id) {
            mine.remove(room);
        }
        let mut shard = write(self.rooms_of(room));
        if let Some(members) = shard.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                shard.remove(room);
            }
        }
    }

    fn del_all(&self, id: &SocketId) {
        let Some(mine) = write(self.sids_of(id)).remove(id) else {
            return;
        };
        for room in mine {
            let mut shard = write(self.rooms_of(&room));
            if let Some(members) = shard.get_mut(&room) {
                members.remove(id);
                if members.is_empty() {
                    shard.remove(&room);
                }
            }
        }
    }

    fn socket_rooms(&self, id: &SocketId) -> Vec<Room> {
        read(self.sids_of(id))
            .get(id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn rooms(&self) -> Vec<Room> {
        self.rooms
            .iter()
            .flat_map(|s| read(s).keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    fn room_members(&self, room: &Room) -> Vec<SocketId> {
        read(self.rooms_of(room))
            .get(room)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn for_each_selected(
        &self,
        opts: &BroadcastOptions,
        all: &mut dyn Iterator<Item = SocketId>,
        f: &mut dyn FnMut(&SocketId),
    ) {
        // The common case — one room, no exception — walks the member set in place.
        if let ([room], []) = (&opts.rooms[..], &opts.except[..]) {
            if let Some(members) = read(self.rooms_of(room)).get(room) {
                members.iter().for_each(f);
            }
            return;
        }
        for id in self.select(opts, all) {
            f(&id);
        }
    }

    fn select(
        &self,
        opts: &BroadcastOptions,
        all: &mut dyn Iterator<Item = SocketId>,
    ) -> Vec<SocketId> {
        let except = !opts.except.is_empty();
        if opts.rooms.is_empty() {
            return all
                .filter(|id| !except || !self.is_in_any(id, &opts.except))
                .collect();
        }
        let mut seen: HashSet<SocketId> = HashSet::new();
        let mut out = Vec::new();
        for room in &opts.rooms {
            let shard = read(self.rooms_of(room));
            if let Some(members) = shard.get(room) {
                for id in members {
                    if (opts.rooms.len() == 1 || seen.insert(id.clone()))
                        && (!except || !self.is_in_any(id, &opts.except))
                    {
                        out.push(id.clone());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SocketId {
        SocketId::from(s)
    }
    fn room(s: &str) -> Room {
        Room::from(s)
    }
    fn sorted(mut v: Vec<SocketId>) -> Vec<SocketId> {
        v.sort();
        v
    }

    #[test]
    fn rooms_are_pruned_when_empty() {
        let a = LocalAdapter::default();
        a.add_all(&id("s1"), &[room("s1"), room("r")]);
        a.add_all(&id("s2"), &[room("s2"), room("r")]);
        assert_eq!(sorted(a.room_members(&room("r"))), vec![id("s1"), id("s2")]);
        a.del(&id("s1"), &room("r"));
        a.del_all(&id("s2"));
        let mut rooms = a.rooms();
        rooms.sort();
        assert_eq!(rooms, vec![room("s1")]);
        assert!(a.socket_rooms(&id("s2")).is_empty());
    }

    #[test]
    fn select_unions_rooms_once_and_applies_except() {
        let a = LocalAdapter::default();
        a.add_all(&id("s1"), &[room("s1"), room("r1"), room("r2")]);
        a.add_all(&id("s2"), &[room("s2"), room("r2"), room("x")]);
        a.add_all(&id("s3"), &[room("s3")]);
        let opts = BroadcastOptions {
            rooms: vec![room("r1"), room("r2")],
            ..Default::default()
        };
        let all = || vec![id("s1"), id("s2"), id("s3")].into_iter();
        assert_eq!(
            sorted(a.select(&opts, &mut all())),
            vec![id("s1"), id("s2")]
        );
        let opts = BroadcastOptions {
            rooms: vec![room("r1"), room("r2")],
            except: vec![room("x")],
            ..Default::default()
        };
        assert_eq!(a.select(&opts, &mut all()), vec![id("s1")]);
        let opts = BroadcastOptions {
            except: vec![room("s3")],
            ..Default::default()
        };
        assert_eq!(
            sorted(a.select(&opts, &mut all())),
            vec![id("s1"), id("s2")]
        );
    }
}
