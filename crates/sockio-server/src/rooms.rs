//! [`RoomIndex`]: the rooms of one namespace on this server and their members.
//!
//! The index keeps, per room, the members' handles themselves (not only their ids), so a
//! broadcast walks one array instead of looking every recipient up by id. It is split in
//! shards, each behind its own read-write lock, so concurrent broadcasts only share read
//! locks and joins elsewhere do not stop them.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::RwLock;

use crate::ids::{Room, SocketId};

/// What a [`RoomIndex`] keeps of each member: a cheap handle that knows its id.
pub trait Member: Clone + Send + Sync + 'static {
    /// The member's id (also the name of its own room).
    fn id(&self) -> &SocketId;
}

const SHARDS: usize = 16;

/// Below this many members, a room finds a member by scanning its list; from it on, the
/// room keeps a position index (most rooms are a socket's own room, with one member).
const INDEXED_FROM: usize = 16;

/// The members of one room: their handles in one array (what a broadcast walks) and,
/// for big rooms, where each sits in it.
struct Members<M> {
    list: Vec<M>,
    positions: Option<HashMap<SocketId, usize>>,
}

impl<M: Member> Members<M> {
    fn new() -> Self {
        Self {
            list: Vec::new(),
            positions: None,
        }
    }

    fn position(&self, id: &SocketId) -> Option<usize> {
        match &self.positions {
            Some(p) => p.get(id).copied(),
            None => self.list.iter().position(|m| m.id() == id),
        }
    }

    fn insert(&mut self, member: &M) {
        if self.position(member.id()).is_some() {
            return;
        }
        self.list.push(member.clone());
        let at = self.list.len() - 1;
        match &mut self.positions {
            Some(p) => {
                p.insert(member.id().clone(), at);
            }
            None if self.list.len() >= INDEXED_FROM => {
                let p = self
                    .list
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.id().clone(), i))
                    .collect();
                self.positions = Some(p);
            }
            None => {}
        }
    }

    fn remove(&mut self, id: &SocketId) {
        let Some(at) = self.position(id) else {
            return;
        };
        self.list.swap_remove(at);
        if let Some(p) = &mut self.positions {
            p.remove(id);
            if let Some(moved) = self.list.get(at) {
                p.insert(moved.id().clone(), at);
            }
        }
        if self.list.len() < INDEXED_FROM / 2 {
            self.positions = None;
        }
        if self.list.capacity() > 2 * self.list.len() + 8 {
            self.list.shrink_to(self.list.len() + self.list.len() / 2);
        }
    }
}

/// A member and the rooms it is in.
struct Entry<M> {
    member: M,
    rooms: HashSet<Room>,
}

/// Rooms and their members, sharded by name. Generic over the handle it keeps so that it
/// can be tested on its own; each namespace keeps its [`Socket`](crate::Socket)s in one.
///
/// ```
/// use sockio_server::rooms::{Member, RoomIndex};
/// use sockio_server::{Room, SocketId};
///
/// #[derive(Clone)]
/// struct Player(SocketId);
/// impl Member for Player {
///     fn id(&self) -> &SocketId {
///         &self.0
///     }
/// }
///
/// let index = RoomIndex::default();
/// let (a, b) = (Player("a".into()), Player("b".into()));
/// index.add_all(&a, &[Room::from("a"), Room::from("lobby")]);
/// index.add_all(&b, &[Room::from("b"), Room::from("lobby")]);
///
/// // Everyone in the lobby but `b`:
/// let mut reached = Vec::new();
/// index.for_each_selected(&[Room::from("lobby")], &[Room::from("b")], &mut |p| {
///     reached.push(p.0.to_string())
/// });
/// assert_eq!(reached, ["a"]);
/// ```
pub struct RoomIndex<M> {
    rooms: Vec<RwLock<HashMap<Room, Members<M>>>>,
    members: Vec<RwLock<HashMap<SocketId, Entry<M>>>>,
    hasher: RandomState,
}

impl<M> Default for RoomIndex<M> {
    fn default() -> Self {
        Self {
            rooms: (0..SHARDS).map(|_| RwLock::default()).collect(),
            members: (0..SHARDS).map(|_| RwLock::default()).collect(),
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

impl<M: Member> RoomIndex<M> {
    fn shard(&self, s: &str) -> usize {
        (self.hasher.hash_one(s) as usize) % SHARDS
    }

    fn room_shard(&self, room: &str) -> &RwLock<HashMap<Room, Members<M>>> {
        &self.rooms[self.shard(room)]
    }

    fn member_shard(&self, id: &str) -> &RwLock<HashMap<SocketId, Entry<M>>> {
        &self.members[self.shard(id)]
    }

    /// Adds `member` to `rooms`.
    pub fn add_all(&self, member: &M, rooms: &[Room]) {
        self.add_all_reporting(member, rooms);
    }

    /// Adds `member` to `rooms`; returns the rooms that did not exist before (in the
    /// order of `rooms`), for a cluster adapter that follows room creations.
    pub fn add_all_reporting(&self, member: &M, rooms: &[Room]) -> Vec<Room> {
        let id = member.id();
        let mut created = Vec::new();
        write(self.member_shard(id))
            .entry(id.clone())
            .or_insert_with(|| Entry {
                member: member.clone(),
                rooms: HashSet::new(),
            })
            .rooms
            .extend(rooms.iter().cloned());
        for room in rooms {
            let mut shard = write(self.room_shard(room));
            match shard.entry(room.clone()) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().insert(member),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(Members::new()).insert(member);
                    created.push(room.clone());
                }
            }
        }
        created
    }

    /// Whether the room is gone (its last member left).
    fn leave_room(&self, id: &SocketId, room: &Room) -> bool {
        let mut shard = write(self.room_shard(room));
        if let Some(members) = shard.get_mut(room) {
            members.remove(id);
            if members.list.is_empty() {
                shard.remove(room);
                return true;
            }
        }
        false
    }

    /// Removes member `id` from `room`.
    pub fn del(&self, id: &SocketId, room: &Room) {
        self.del_reporting(id, room);
    }

    /// Removes member `id` from `room`; whether the room is gone (it was the last
    /// member).
    pub fn del_reporting(&self, id: &SocketId, room: &Room) -> bool {
        // A member in no room stays known (every-member selections still reach it),
        // until `del_all`.
        if let Some(entry) = write(self.member_shard(id)).get_mut(id) {
            entry.rooms.remove(room);
        }
        self.leave_room(id, room)
    }

    /// Removes member `id` from every room.
    pub fn del_all(&self, id: &SocketId) {
        self.del_all_reporting(id);
    }

    /// Removes member `id` from every room; returns the rooms that are gone (it was
    /// their last member).
    pub fn del_all_reporting(&self, id: &SocketId) -> Vec<Room> {
        let Some(entry) = write(self.member_shard(id)).remove(id) else {
            return Vec::new();
        };
        entry
            .rooms
            .iter()
            .filter(|room| self.leave_room(id, room))
            .cloned()
            .collect()
    }

    /// The rooms of member `id`.
    pub fn member_rooms(&self, id: &SocketId) -> Vec<Room> {
        read(self.member_shard(id))
            .get(id)
            .map(|e| e.rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every room with at least one member.
    pub fn rooms(&self) -> Vec<Room> {
        self.rooms
            .iter()
            .flat_map(|s| read(s).keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// The ids of the members of `room`.
    pub fn room_members(&self, room: &Room) -> Vec<SocketId> {
        read(self.room_shard(room))
            .get(room)
            .map(|m| m.list.iter().map(|m| m.id().clone()).collect())
            .unwrap_or_default()
    }

    /// The ids of the members of any of `rooms`, computed once per operation so that
    /// excluding them costs one set lookup per recipient.
    fn members_of(&self, rooms: &[Room]) -> HashSet<SocketId> {
        let mut ids = HashSet::new();
        for room in rooms {
            if let Some(members) = read(self.room_shard(room)).get(room) {
                ids.extend(members.list.iter().map(|m| m.id().clone()));
            }
        }
        ids
    }

    /// Calls `f` once with each member in any of `rooms` (every member when `rooms` is
    /// empty) and in none of `except`, under the index's read locks.
    pub fn for_each_selected(&self, rooms: &[Room], except: &[Room], f: &mut dyn FnMut(&M)) {
        let excluded = if except.is_empty() {
            HashSet::new()
        } else {
            self.members_of(except)
        };
        let keep = |m: &M| excluded.is_empty() || !excluded.contains(m.id());
        match rooms {
            [] => {
                for shard in &self.members {
                    for e in read(shard).values() {
                        if keep(&e.member) {
                            f(&e.member);
                        }
                    }
                }
            }
            // The common case: one room, walked in place.
            [room] => {
                if let Some(members) = read(self.room_shard(room)).get(room) {
                    for m in &members.list {
                        if keep(m) {
                            f(m);
                        }
                    }
                }
            }
            _ => {
                let mut seen: HashSet<SocketId> = HashSet::new();
                for room in rooms {
                    if let Some(members) = read(self.room_shard(room)).get(room) {
                        for m in &members.list {
                            if keep(m) && seen.insert(m.id().clone()) {
                                f(m);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct M(SocketId);
    impl Member for M {
        fn id(&self) -> &SocketId {
            &self.0
        }
    }

    fn m(s: &str) -> M {
        M(SocketId::from(s))
    }
    fn room(s: &str) -> Room {
        Room::from(s)
    }
    fn ids(v: Vec<SocketId>) -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(|i| i.to_string()).collect();
        v.sort();
        v
    }
    fn selected(i: &RoomIndex<M>, rooms: &[&str], except: &[&str]) -> Vec<String> {
        let rooms: Vec<Room> = rooms.iter().map(|r| room(r)).collect();
        let except: Vec<Room> = except.iter().map(|r| room(r)).collect();
        let mut out = Vec::new();
        i.for_each_selected(&rooms, &except, &mut |m| out.push(m.0.clone()));
        ids(out)
    }

    #[test]
    fn creations_and_deletions_are_reported() {
        let i = RoomIndex::default();
        let (a, b) = (m("a"), m("b"));
        assert_eq!(
            i.add_all_reporting(&a, &[room("x"), room("y")]),
            [room("x"), room("y")]
        );
        assert_eq!(
            i.add_all_reporting(&b, &[room("y"), room("z")]),
            [room("z")]
        );
        assert!(i.add_all_reporting(&a, &[room("x")]).is_empty());
        assert!(!i.del_reporting(b.id(), &room("y")));
        assert!(i.del_reporting(b.id(), &room("z")));
        assert!(!i.del_reporting(b.id(), &room("z")));
        let mut gone = i.del_all_reporting(a.id());
        gone.sort();
        assert_eq!(gone, [room("x"), room("y")]);
        assert!(i.del_all_reporting(a.id()).is_empty());
    }

    #[test]
    fn rooms_are_pruned_when_empty() {
        let a = RoomIndex::default();
        a.add_all(&m("s1"), &[room("s1"), room("r")]);
        a.add_all(&m("s2"), &[room("s2"), room("r")]);
        assert_eq!(ids(a.room_members(&room("r"))), ["s1", "s2"]);
        a.del(&SocketId::from("s1"), &room("r"));
        a.del_all(&SocketId::from("s2"));
        let mut rooms = a.rooms();
        rooms.sort();
        assert_eq!(rooms, vec![room("s1")]);
        assert!(a.member_rooms(&SocketId::from("s2")).is_empty());
        // A member that left every room is still one of all members, until `del_all`.
        a.del(&SocketId::from("s1"), &room("s1"));
        assert!(a.rooms().is_empty());
        assert_eq!(selected(&a, &[], &[]), ["s1"]);
        a.del_all(&SocketId::from("s1"));
        assert_eq!(selected(&a, &[], &[]), Vec::<String>::new());
    }

    #[test]
    fn selection_unions_rooms_once_and_applies_except() {
        let a = RoomIndex::default();
        a.add_all(&m("s1"), &[room("s1"), room("r1"), room("r2")]);
        a.add_all(&m("s2"), &[room("s2"), room("r2"), room("x")]);
        a.add_all(&m("s3"), &[room("s3")]);
        assert_eq!(selected(&a, &["r1", "r2"], &[]), ["s1", "s2"]);
        assert_eq!(selected(&a, &["r1", "r2"], &["x"]), ["s1"]);
        assert_eq!(selected(&a, &["r2"], &["s1"]), ["s2"]);
        assert_eq!(selected(&a, &[], &["s3"]), ["s1", "s2"]);
        assert_eq!(selected(&a, &[], &[]), ["s1", "s2", "s3"]);
        assert_eq!(selected(&a, &["nobody"], &[]), Vec::<String>::new());
    }

    #[test]
    fn joining_twice_keeps_one_membership() {
        let a = RoomIndex::default();
        a.add_all(&m("s1"), &[room("r")]);
        a.add_all(&m("s1"), &[room("r"), room("r")]);
        assert_eq!(ids(a.room_members(&room("r"))), ["s1"]);
    }

    #[test]
    fn big_rooms_stay_consistent_through_joins_and_leaves() {
        let a = RoomIndex::default();
        let n = 200;
        for i in 0..n {
            a.add_all(&m(&format!("s{i}")), &[room("big")]);
        }
        // Leave every third member, in an order that moves others around.
        for i in (0..n).rev().step_by(3) {
            a.del(&SocketId::from(format!("s{i}")), &room("big"));
        }
        let expected: Vec<String> = {
            let mut v: Vec<String> = (0..n)
                .filter(|i| (n - 1 - i) % 3 != 0)
                .map(|i| format!("s{i}"))
                .collect();
            v.sort();
            v
        };
        assert_eq!(selected(&a, &["big"], &[]), expected);
        // Shrinking below the index threshold and growing again still finds everyone.
        for id in &expected[..expected.len() - 3] {
            a.del(&SocketId::from(id.as_str()), &room("big"));
        }
        assert_eq!(selected(&a, &["big"], &[]).len(), 3);
        for i in 0..40 {
            a.add_all(&m(&format!("t{i}")), &[room("big")]);
        }
        assert_eq!(selected(&a, &["big"], &[]).len(), 43);
        for i in 0..40 {
            a.del(&SocketId::from(format!("t{i}")), &room("big"));
            a.add_all(&m(&format!("t{i}")), &[room("big")]);
        }
        assert_eq!(selected(&a, &["big"], &[]).len(), 43);
    }
}
