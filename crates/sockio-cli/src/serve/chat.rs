//! The chat of `sockio serve`: what the page at `/` talks to, in namespace `/`.
//!
//! * Connecting takes a nickname as auth (`{ nickname, token }`); an empty, too long or
//!   taken one is refused (`connect_error` with the reason). `token` is the page's own
//!   random id: a page reconnecting with its token takes its nickname back at once.
//! * `users` (server → everybody): who is online, `[{ id, nickname }]`, on each arrival
//!   and departure; `welcome` (to the newcomer): `{ id, nickname }`.
//! * `join` / `leave` `[rooms]` → ack `{ rooms }`: the rooms the socket is in after it.
//! * `room message` `{ room, text }`: to the room without the sender; `announce`
//!   `{ text }`: to everybody but the sender; `private message` `{ to, text }`: to the
//!   socket `to` only, acknowledged by its page — each answered with `{ ok: true }` or
//!   `{ error }`. What arrives is the `message` event `{ kind, room?, from, fromId, text }`.
//! * `typing` `{ room, typing }`: a volatile broadcast to the room without the sender.
//!
//! Rooms are kept as `#name`, so a room can never be taken for a socket id (socket
//! ids are rooms of their own). In a cluster, each socket is also in `@nickname`
//! (lower-case), so a node finds who holds a nickname by fetching that room only.
//!
//! In a cluster (`--redis`), the chat spans every node: room messages, announcements
//! and typing notices are broadcasts, which the Redis adapter carries; a private message
//! to a socket of another node is a broadcast with acknowledgement to its id; each
//! socket's `data` holds its nickname (and its page's token), so that a node sees the
//! users of the others with `fetch_sockets`: the list of users is the cluster's, a
//! nickname taken on another node is refused (a page coming back to another node with
//! its token takes it over). Any arrival or departure tells the other nodes
//! (`server_side_emit("users changed")`), and each node sends its own pages the new list.
//! When Redis is away, a node keeps serving its own users with the list it knows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sockio::server::{ConnectError, Namespace, Socket, SocketIo};

/// The longest nickname, room name and message, in characters.
const MAX_NICKNAME: usize = 24;
const MAX_ROOM: usize = 32;
const MAX_TEXT: usize = 2000;
/// How long a page has to acknowledge a private message.
const PRIVATE_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a nickname claimed by a middleware stays reserved for a socket that has not
/// connected yet.
const RESERVATION: Duration = Duration::from_secs(10);

/// Who holds a nickname.
struct Holder {
    id: String,
    token: String,
    nickname: String,
    since: Instant,
}

/// The nicknames in use, by lower-case nickname.
#[derive(Default)]
struct Names(Mutex<HashMap<String, Holder>>);

/// A socket's nickname (a socket extension).
struct Nickname(String);

/// What a socket's `data` holds, for the other nodes of a cluster.
#[derive(Serialize, Deserialize)]
struct ChatData {
    nickname: String,
    token: String,
}

/// The server-side event telling the other nodes that the list of users changed.
const USERS_CHANGED: &str = "users changed";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    nickname: String,
}

#[derive(Deserialize)]
struct RoomMessage {
    room: String,
    text: String,
}

#[derive(Deserialize)]
struct Announce {
    text: String,
}

#[derive(Deserialize)]
struct PrivateMessage {
    to: String,
    text: String,
}

#[derive(Deserialize)]
struct Typing {
    room: String,
    typing: bool,
}

/// What the recipients get, as the `message` event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    from: &'a str,
    from_id: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct TypingNotice<'a> {
    room: &'a str,
    from: &'a str,
    typing: bool,
}

/// The answer of every acknowledgement of the chat.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    Ok(bool),
    Rooms(Vec<String>),
    Error(String),
}

/// Sets the chat up on `io`'s namespace `/`; `clustered`: `io` is one node of a cluster
/// (a Redis adapter), whose other nodes run this chat too.
pub fn install(io: &SocketIo, clustered: bool) {
    let names = Arc::new(Names::default());
    let ns = io.sockets();
    let roster = Roster::new(&ns, clustered);

    let (claims, root) = (names.clone(), ns.clone());
    io.middleware(move |socket| {
        let result = claim(&claims, &root, &socket);
        let (claims, root) = (claims.clone(), root.clone());
        async move {
            result?;
            if clustered {
                claim_in_cluster(&claims, &root, &socket).await?;
            }
            Ok(())
        }
    });

    io.on_connection(move |socket| {
        let nickname = match names.holder_of(socket.id()) {
            Some(n) => n,
            None => {
                // Its reservation went stale before it connected: start over.
                let _ = socket.emit("notice", "please reconnect");
                socket.disconnect();
                return;
            }
        };
        socket.insert_extension(Nickname(nickname.clone()));
        if clustered {
            socket.join(nickname_room(&nickname));
        }
        let token = names.token_of(socket.id()).unwrap_or_default();
        if let Err(e) = socket.set_data(ChatData {
            nickname: nickname.clone(),
            token,
        }) {
            tracing::warn!(error = %e, "could not set the socket's data");
        }
        tracing::info!(id = %socket.id(), %nickname, transport = ?socket.transport(), "joined the chat");
        let _ = socket.emit(
            "welcome",
            User {
                id: socket.id().to_string(),
                nickname,
            },
        );
        roster.changed();
        handlers(socket, clustered);
        let (names, roster) = (names.clone(), roster.clone());
        socket.on_disconnect(move |socket, reason| {
            names.release(socket.id());
            tracing::info!(id = %socket.id(), %reason, "left the chat");
            roster.changed();
        });
    });
}

/// Sends the list of users to the pages: at once from this node's sockets when alone;
/// in a cluster, from every node's (`fetch_sockets`), by one task per node that runs
/// again whenever a change came in meanwhile, so the last list sent is never older than
/// the last change heard of.
#[derive(Clone)]
struct Roster {
    ns: Namespace,
    /// `None` when alone.
    wake: Option<Arc<tokio::sync::Notify>>,
}

impl Roster {
    fn new(ns: &Namespace, clustered: bool) -> Roster {
        if !clustered {
            return Roster {
                ns: ns.clone(),
                wake: None,
            };
        }
        let wake = Arc::new(tokio::sync::Notify::new());
        let heard = wake.clone();
        ns.on_server_side(USERS_CHANGED, move |_| heard.notify_one());
        let (task_ns, task_wake) = (ns.clone(), wake.clone());
        tokio::spawn(async move {
            loop {
                task_wake.notified().await;
                let users = match cluster_users(&task_ns).await {
                    Ok(users) => users,
                    Err(e) => {
                        tracing::warn!(error = %e, "users of the other nodes unknown (redis?): sending this node's");
                        local_users(&task_ns)
                    }
                };
                if let Err(e) = task_ns.local().emit("users", &users) {
                    tracing::warn!(error = %e, "could not send the list of users");
                }
            }
        });
        Roster {
            ns: ns.clone(),
            wake: Some(wake),
        }
    }

    /// A user arrived or left on this node.
    fn changed(&self) {
        let Some(wake) = &self.wake else {
            send_users(&self.ns);
            return;
        };
        wake.notify_one();
        if let Err(e) = self.ns.server_side_emit(USERS_CHANGED, ()) {
            tracing::warn!(error = %e, "could not tell the other nodes");
        }
    }
}

/// The users of every node, sorted.
async fn cluster_users(ns: &Namespace) -> Result<Vec<User>, sockio::server::AdapterError> {
    let sockets = ns.fetch_sockets().await?;
    let mut users: Vec<User> = sockets
        .iter()
        .filter_map(|s| {
            let data = s.data::<ChatData>().ok()?;
            Some(User {
                id: s.id().to_string(),
                nickname: data.nickname,
            })
        })
        .collect();
    users.sort_by_key(|u| u.nickname.to_lowercase());
    Ok(users)
}

/// The room of the sockets holding `nickname`, whatever its case.
fn nickname_room(nickname: &str) -> String {
    format!("@{}", nickname.to_lowercase())
}

/// In a cluster, after the local check: the nickname is not held on another node, or is
/// held there by this page (same token), whose old socket is disconnected. Without an
/// answer from the other nodes (Redis away), the local check stands.
async fn claim_in_cluster(
    names: &Names,
    ns: &Namespace,
    socket: &Socket,
) -> Result<(), ConnectError> {
    let Some((nickname, token)) = names.claim_of(socket.id()) else {
        return Ok(());
    };
    let sockets = match ns.to(nickname_room(&nickname)).fetch_sockets().await {
        Ok(sockets) => sockets,
        Err(e) => {
            tracing::warn!(error = %e, "nickname checked on this node only (redis?)");
            return Ok(());
        }
    };
    let key = nickname.to_lowercase();
    for other in sockets {
        if other.id() == socket.id() || ns.socket(other.id()).is_some() {
            continue;
        }
        let Ok(data) = other.data::<ChatData>() else {
            continue;
        };
        if data.nickname.to_lowercase() != key {
            continue;
        }
        if !token.is_empty() && data.token == token {
            // This page, still connected to another node: it moves here.
            if let Err(e) = other.disconnect() {
                tracing::warn!(error = %e, "could not disconnect the page's old socket");
            }
            continue;
        }
        names.release(socket.id());
        return Err(ConnectError::new(format!(
            "nickname \"{}\" is taken",
            data.nickname
        )));
    }
    Ok(())
}

/// The middleware: the nickname in `auth` is valid and free (or this page's own).
fn claim(names: &Names, ns: &Namespace, socket: &Socket) -> Result<(), ConnectError> {
    let auth = socket.auth();
    let nickname = auth
        .get("nickname")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .trim()
        .to_owned();
    let token = auth
        .get("token")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    if nickname.is_empty() {
        return Err(ConnectError::new("a nickname is required"));
    }
    if nickname.chars().count() > MAX_NICKNAME {
        return Err(ConnectError::new(format!(
            "nickname too long ({MAX_NICKNAME} characters at most)"
        )));
    }
    if nickname.chars().any(char::is_control) {
        return Err(ConnectError::new("nickname with control characters"));
    }
    let key = nickname.to_lowercase();
    let mut held = lock(&names.0);
    let mut replaced = None;
    if let Some(h) = held.get(&key) {
        let connected = ns.socket(&h.id);
        let live = connected.is_some() || h.since.elapsed() < RESERVATION;
        if live && (token.is_empty() || h.token != token) {
            return Err(ConnectError::new(format!(
                "nickname \"{}\" is taken",
                h.nickname
            )));
        }
        // The same page again (its old connection not yet timed out): it wins.
        replaced = connected;
    }
    held.insert(
        key,
        Holder {
            id: socket.id().to_string(),
            token,
            nickname,
            since: Instant::now(),
        },
    );
    drop(held);
    // Outside the lock: the old socket's disconnect listener takes it.
    if let Some(old) = replaced {
        old.disconnect();
    }
    Ok(())
}

impl Names {
    fn holder_of(&self, id: &str) -> Option<String> {
        lock(&self.0)
            .values()
            .find(|h| h.id == id)
            .map(|h| h.nickname.clone())
    }

    fn token_of(&self, id: &str) -> Option<String> {
        lock(&self.0)
            .values()
            .find(|h| h.id == id)
            .map(|h| h.token.clone())
    }

    /// The nickname and token `id` claimed.
    fn claim_of(&self, id: &str) -> Option<(String, String)> {
        lock(&self.0)
            .values()
            .find(|h| h.id == id)
            .map(|h| (h.nickname.clone(), h.token.clone()))
    }

    fn release(&self, id: &str) {
        lock(&self.0).retain(|_, h| h.id != id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn nickname(socket: &Socket) -> String {
    socket
        .extension::<Nickname>()
        .map(|n| n.0.clone())
        .unwrap_or_default()
}

/// Tells everybody who is online (one server alone).
fn send_users(ns: &Namespace) {
    let users = local_users(ns);
    if let Err(e) = ns.emit("users", &users) {
        tracing::warn!(error = %e, "could not send the list of users");
    }
}

/// The users of this server, sorted.
fn local_users(ns: &Namespace) -> Vec<User> {
    let mut users: Vec<User> = ns
        .sockets()
        .iter()
        .filter(|s| s.connected())
        .filter_map(|s| {
            Some(User {
                id: s.id().to_string(),
                nickname: s.extension::<Nickname>()?.0.clone(),
            })
        })
        .collect();
    users.sort_by_key(|u| u.nickname.to_lowercase());
    users
}

/// `name` checked, as the room it is kept as.
fn room_key(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_ROOM || name.chars().any(char::is_control) {
        return Err(format!(
            "invalid room name {name:?} (1 to {MAX_ROOM} characters)"
        ));
    }
    Ok(format!("#{name}"))
}

/// The rooms `socket` is in, by name, sorted.
fn rooms_of(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket
        .rooms()
        .iter()
        .filter_map(|r| r.as_str().strip_prefix('#').map(str::to_owned))
        .collect();
    rooms.sort();
    rooms
}

fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty message".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("message too long ({MAX_TEXT} characters at most)"));
    }
    Ok(())
}

/// The room keys of a `join` / `leave` event: its first argument, a list of room names.
fn room_keys(event: &sockio::server::Event) -> Result<Vec<String>, String> {
    let rooms = event
        .arg::<Vec<String>>(0)
        .map_err(|e| format!("expected a list of rooms: {e}"))?;
    rooms.iter().map(|r| room_key(r)).collect()
}

fn reply(result: Result<Reply, String>) -> Reply {
    result.unwrap_or_else(Reply::Error)
}

fn handlers(socket: &Socket, clustered: bool) {
    socket.on("join", |socket, mut event| {
        let result = room_keys(&event).map(|keys| {
            socket.join(keys);
            Reply::Rooms(rooms_of(socket))
        });
        let _ = event.ack(reply(result));
    });

    socket.on("leave", |socket, mut event| {
        let result = room_keys(&event).map(|keys| {
            socket.leave(keys);
            Reply::Rooms(rooms_of(socket))
        });
        let _ = event.ack(reply(result));
    });

    socket.on("room message", |socket, mut event| {
        let result = event
            .arg::<RoomMessage>(0)
            .map_err(|e| format!("expected {{ room, text }}: {e}"))
            .and_then(|m| {
                let key = room_key(&m.room)?;
                check_text(&m.text)?;
                if !socket.rooms().iter().any(|r| r.as_str() == key) {
                    return Err(format!("join {} first", m.room.trim()));
                }
                let from = nickname(socket);
                let message = Message {
                    kind: "room",
                    room: Some(m.room.trim()),
                    from: &from,
                    from_id: socket.id(),
                    text: &m.text,
                };
                socket
                    .to(key)
                    .emit("message", &message)
                    .map_err(|e| e.to_string())?;
                Ok(Reply::Ok(true))
            });
        let _ = event.ack(reply(result));
    });

    socket.on("announce", |socket, mut event| {
        let result = event
            .arg::<Announce>(0)
            .map_err(|e| format!("expected {{ text }}: {e}"))
            .and_then(|m| {
                check_text(&m.text)?;
                let from = nickname(socket);
                let message = Message {
                    kind: "all",
                    room: None,
                    from: &from,
                    from_id: socket.id(),
                    text: &m.text,
                };
                socket
                    .broadcast()
                    .emit("message", &message)
                    .map_err(|e| e.to_string())?;
                Ok(Reply::Ok(true))
            });
        let _ = event.ack(reply(result));
    });

    // Confirmed by the recipient's page: the sender's tick means it arrived there.
    socket.on_async("private message", move |socket, mut event| async move {
        let checked = event
            .arg::<PrivateMessage>(0)
            .map_err(|e| format!("expected {{ to, text }}: {e}"))
            .and_then(|m| {
                check_text(&m.text)?;
                if m.to == socket.id().as_str() {
                    return Err("that is you".into());
                }
                // Rooms are `#name`: anything else is a socket id.
                if m.to.is_empty() || m.to.starts_with(['#', '@']) {
                    return Err("nobody with that id is online".into());
                }
                let target = socket.namespace().socket(&m.to);
                if target.is_none() && !clustered {
                    return Err("nobody with that id is online".into());
                }
                Ok((m, target))
            });
        let result = match checked {
            Err(e) => Err(e),
            Ok((m, target)) => {
                let from = nickname(&socket);
                let message = Message {
                    kind: "private",
                    room: None,
                    from: &from,
                    from_id: socket.id(),
                    text: &m.text,
                };
                match target {
                    Some(target) => match target
                        .timeout(PRIVATE_ACK_TIMEOUT)
                        .emit_with_ack("message", &message)
                        .await
                    {
                        Ok(_) => Ok(Reply::Ok(true)),
                        Err(e) => Err(format!("not delivered: {e}")),
                    },
                    // On another node, maybe: its page's answer comes back through Redis.
                    None => match socket
                        .namespace()
                        .to(m.to.as_str())
                        .timeout(PRIVATE_ACK_TIMEOUT)
                        .emit_with_ack("message", &message)
                        .await
                    {
                        Ok(answers) if answers.is_empty() => {
                            Err("nobody with that id is online".into())
                        }
                        Ok(_) => Ok(Reply::Ok(true)),
                        Err(e) => Err(format!("not delivered: {e}")),
                    },
                }
            }
        };
        let _ = event.ack(reply(result));
    });

    socket.on("typing", |socket, event| {
        let Ok(t) = event.arg::<Typing>(0) else {
            return;
        };
        let Ok(key) = room_key(&t.room) else {
            return;
        };
        if !socket.rooms().iter().any(|r| r.as_str() == key) {
            return;
        }
        let from = nickname(socket);
        let notice = TypingNotice {
            room: t.room.trim(),
            from: &from,
            typing: t.typing,
        };
        let _ = socket.to(key).volatile().emit("typing", &notice);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert_eq!(room_key(" general ").unwrap(), "#general");
        assert!(room_key("").is_err());
        assert!(room_key("   ").is_err());
        assert!(room_key("a\nb").is_err());
        assert!(room_key(&"x".repeat(MAX_ROOM + 1)).is_err());
        assert!(room_key(&"é".repeat(MAX_ROOM)).is_ok());
    }

    #[test]
    fn texts() {
        assert!(check_text("hi").is_ok());
        assert!(check_text(" \n").is_err());
        assert!(check_text(&"x".repeat(MAX_TEXT + 1)).is_err());
    }
}
