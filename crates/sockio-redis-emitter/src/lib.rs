//! Emit to the clients of a Socket.IO cluster from any Rust process that is not a
//! Socket.IO server — a worker, a cron job, a CLI — through Redis, like Node's
//! [`@socket.io/redis-emitter`](https://www.npmjs.com/package/@socket.io/redis-emitter)
//! 5.1, and with its wire format: the servers (sockio with `sockio-redis`, or Node.js
//! with `@socket.io/redis-adapter`'s classic `createAdapter`) cannot tell the difference.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sockio_protocol::socket::Value;
//! use sockio_redis_emitter::Emitter;
//!
//! let emitter = Emitter::connect("redis://127.0.0.1:6379").await?;
//! emitter.emit("news", vec![Value::from("hello")]).await?;            // everyone in "/"
//! emitter.to("room1").except("room2").emit("ev", vec![]).await?;     // a room, but not another
//! emitter.of("/admin").volatile().emit("tick", vec![Value::from(1)]).await?;
//! emitter.to("room1").sockets_join(["room3"]).await?;                // make sockets join a room
//! emitter.disconnect_sockets(true).await?;                           // and close connections
//! emitter.server_side_emit("hello", vec![Value::from(1)]).await?;    // to the servers themselves
//! # Ok(()) }
//! ```
//!
//! What is published, per namespace `nsp` and key `key` (default `socket.io`):
//!
//! * an emission: msgpack `["emitter", {type: 2, data: [event, ...args], nsp},
//!   {rooms, flags, except}]` on `key#nsp#`, or `key#nsp#room#` when exactly one room
//!   is targeted;
//! * `sockets_join` / `sockets_leave` / `disconnect_sockets` / `server_side_emit`: JSON
//!   requests on `key-request#nsp#` (types 2, 3, 4 and 6).
//!
//! Acknowledgements are not supported (an emitter is not a server), as in Node.

use std::sync::Arc;

use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::{ClientLike, PubsubInterface};
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::Builder;
use sockio_protocol::socket::{encode_msgpack_value, is_reserved_event, Value};

/// Event names a Socket.IO server reserves: they cannot be emitted.
pub use sockio_protocol::socket::RESERVED_EVENTS;

/// Why an emission failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitterError {
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
    /// Redis refused the command or could not be reached.
    #[error("redis: {0}")]
    Redis(String),
}

/// An emitter: a Redis connection, a key, a namespace, and the rooms, excluded rooms
/// and flags of the next emission. Cheap to clone; every builder method returns a new
/// emitter and leaves this one as it was.
#[derive(Clone)]
pub struct Emitter {
    client: Client,
    key: Arc<str>,
    nsp: Arc<str>,
    rooms: Vec<String>,
    except: Vec<String>,
    /// Flags in the order they were set (`volatile`, `compress`).
    flags: Vec<(String, Value)>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .field("nsp", &self.nsp)
            .field("rooms", &self.rooms)
            .field("except", &self.except)
            .finish_non_exhaustive()
    }
}

fn redis_error(e: fred::error::Error) -> EmitterError {
    EmitterError::Redis(e.to_string())
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

fn obj<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

impl Emitter {
    /// Connects to the Redis at `url` (`redis://HOST:PORT`), key `socket.io`, namespace
    /// `/`. The connection is re-established when lost.
    pub async fn connect(url: &str) -> Result<Emitter, EmitterError> {
        let config = Config::from_url(url).map_err(redis_error)?;
        let client = Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .with_performance_config(|p| {
                p.default_command_timeout = std::time::Duration::from_secs(5);
            })
            .build()
            .map_err(redis_error)?;
        client.init().await.map_err(redis_error)?;
        Ok(Emitter::new(client))
    }

    /// An emitter publishing with `client` (already connected), key `socket.io`,
    /// namespace `/`.
    pub fn new(client: Client) -> Emitter {
        Emitter {
            client,
            key: Arc::from("socket.io"),
            nsp: Arc::from("/"),
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// The same, with key (channel prefix) `key`, as the servers' adapters are
    /// configured.
    pub fn with_key(&self, key: &str) -> Emitter {
        Emitter {
            key: Arc::from(key),
            ..self.clone()
        }
    }

    /// An emitter for namespace `nsp` (a leading `/` is added when missing), with no
    /// rooms or flags.
    pub fn of(&self, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            client: self.client.clone(),
            key: self.key.clone(),
            nsp: Arc::from(nsp),
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// Targets the sockets in `room` too (a socket id targets that socket).
    pub fn to(&self, room: impl Into<String>) -> Emitter {
        let mut e = self.clone();
        let room = room.into();
        if !e.rooms.contains(&room) {
            e.rooms.push(room);
        }
        e
    }

    /// Same as [`Emitter::to`].
    pub fn in_(&self, room: impl Into<String>) -> Emitter {
        self.to(room)
    }

    /// Spares the sockets in `room`.
    pub fn except(&self, room: impl Into<String>) -> Emitter {
        let mut e = self.clone();
        let room = room.into();
        if !e.except.contains(&room) {
            e.except.push(room);
        }
        e
    }

    fn flag(&self, name: &str, value: Value) -> Emitter {
        let mut e = self.clone();
        match e.flags.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => e.flags.push((name.to_owned(), value)),
        }
        e
    }

    /// The packet may be dropped for clients that cannot take it right now.
    pub fn volatile(&self) -> Emitter {
        self.flag("volatile", Value::Bool(true))
    }

    /// Whether the servers should compress the packet (WebSocket permessage-deflate).
    pub fn compress(&self, compress: bool) -> Emitter {
        self.flag("compress", Value::Bool(compress))
    }

    fn broadcast_channel(&self) -> String {
        format!("{}#{}#", self.key, self.nsp)
    }

    fn request_channel(&self) -> String {
        format!("{}-request#{}#", self.key, self.nsp)
    }

    /// The bytes and channel of an emission (what [`Emitter::emit`] publishes).
    pub fn encode_emit(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<(String, Bytes), EmitterError> {
        if is_reserved_event(event) {
            return Err(EmitterError::ReservedEvent(event.to_owned()));
        }
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::from(event));
        data.extend(args);
        let packet = obj([
            ("type", Value::from(2)),
            ("data", Value::Array(data)),
            ("nsp", Value::from(&*self.nsp)),
        ]);
        let opts = obj([
            ("rooms", strings(&self.rooms)),
            ("flags", Value::Object(self.flags.clone())),
            ("except", strings(&self.except)),
        ]);
        let message = Value::Array(vec![Value::from("emitter"), packet, opts]);
        let mut channel = self.broadcast_channel();
        if let [room] = &self.rooms[..] {
            channel.push_str(room);
            channel.push('#');
        }
        Ok((channel, encode_msgpack_value(&message)))
    }

    async fn publish(&self, channel: String, payload: Bytes) -> Result<(), EmitterError> {
        self.client
            .publish::<(), _, _>(channel, payload)
            .await
            .map_err(redis_error)
    }

    /// Emits `event` with `args` to the selected sockets of every server.
    pub async fn emit(&self, event: &str, args: Vec<Value>) -> Result<(), EmitterError> {
        let (channel, payload) = self.encode_emit(event, args)?;
        self.publish(channel, payload).await
    }

    fn selector(&self) -> Value {
        obj([
            ("rooms", strings(&self.rooms)),
            ("except", strings(&self.except)),
        ])
    }

    async fn request(&self, request: Value) -> Result<(), EmitterError> {
        let payload = Bytes::from(request.to_json());
        self.publish(self.request_channel(), payload).await
    }

    /// Makes the selected sockets of every server join `rooms`.
    pub async fn sockets_join<I, R>(&self, rooms: I) -> Result<(), EmitterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        self.request(obj([
            ("type", Value::from(2)),
            ("opts", self.selector()),
            ("rooms", strings(&rooms)),
        ]))
        .await
    }

    /// Makes the selected sockets of every server leave `rooms`.
    pub async fn sockets_leave<I, R>(&self, rooms: I) -> Result<(), EmitterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        self.request(obj([
            ("type", Value::from(3)),
            ("opts", self.selector()),
            ("rooms", strings(&rooms)),
        ]))
        .await
    }

    /// Disconnects the selected sockets of every server; with `close`, their whole
    /// connections.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        self.request(obj([
            ("type", Value::from(4)),
            ("opts", self.selector()),
            ("close", Value::Bool(close)),
        ]))
        .await
    }

    /// Sends a server-side event to every server of the namespace (their
    /// `on_server_side` listeners run; no acknowledgement).
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<(), EmitterError> {
        if is_reserved_event(event) {
            return Err(EmitterError::ReservedEvent(event.to_owned()));
        }
        let mut data = vec![Value::from(event)];
        data.extend(args);
        self.request(obj([
            ("uid", Value::from("emitter")),
            ("type", Value::from(6)),
            ("data", Value::Array(data)),
        ]))
        .await
    }

    /// Closes the Redis connection.
    pub async fn quit(&self) -> Result<(), EmitterError> {
        self.client.quit().await.map_err(redis_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn emitter() -> Emitter {
        let config = Config::from_url("redis://127.0.0.1:1").unwrap();
        Emitter::new(Builder::from_config(config).build().unwrap())
    }

    /// Bytes @socket.io/redis-emitter 5.1 published.
    #[test]
    fn emissions_byte_exact_with_node() {
        let e = emitter();
        let (channel, bytes) = e
            .encode_emit(
                "from-emitter",
                vec![Value::from_json(r#"{"x":1}"#).unwrap()],
            )
            .unwrap();
        assert_eq!(channel, "socket.io#/#");
        assert_eq!(
            hex(&bytes),
            "93a7656d697474657283a47479706502a46461746192ac66726f6d2d656d697474657281a17801a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490"
        );
        let (channel, bytes) = e
            .to("r1")
            .except("r2")
            .encode_emit("ev", vec![Value::from("a")])
            .unwrap();
        assert_eq!(channel, "socket.io#/#r1#");
        assert_eq!(
            sockio_protocol::socket::decode_msgpack_value(&bytes)
                .unwrap()
                .to_json(),
            r#"["emitter",{"type":2,"data":["ev","a"],"nsp":"/"},{"rooms":["r1"],"flags":{},"except":["r2"]}]"#
        );
        let (channel, bytes) = e.of("chat").volatile().encode_emit("ev2", vec![]).unwrap();
        assert_eq!(channel, "socket.io#/chat#");
        assert_eq!(
            sockio_protocol::socket::decode_msgpack_value(&bytes)
                .unwrap()
                .to_json(),
            r#"["emitter",{"type":2,"data":["ev2"],"nsp":"/chat"},{"rooms":[],"flags":{"volatile":true},"except":[]}]"#
        );
        let (channel, _) = e
            .with_key("myapp")
            .to("a")
            .to("b")
            .encode_emit("x", vec![])
            .unwrap();
        assert_eq!(channel, "myapp#/#");
    }

    #[test]
    fn reserved_names_are_refused() {
        let e = emitter();
        for name in RESERVED_EVENTS {
            assert_eq!(
                e.encode_emit(name, vec![]).unwrap_err(),
                EmitterError::ReservedEvent(name.to_owned())
            );
        }
    }

    #[test]
    fn builders_leave_the_original_alone() {
        let e = emitter();
        let r = e.to("a").except("b").volatile().compress(false);
        assert!(e.rooms.is_empty() && e.except.is_empty() && e.flags.is_empty());
        assert_eq!(r.rooms, ["a"]);
        assert_eq!(r.except, ["b"]);
        assert_eq!(
            Value::Object(r.flags.clone()).to_json(),
            r#"{"volatile":true,"compress":false}"#
        );
        assert_eq!(r.of("/x").rooms.len(), 0);
        assert_eq!(r.selector().to_json(), r#"{"rooms":["a"],"except":["b"]}"#);
    }
}
