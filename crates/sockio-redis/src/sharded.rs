//! The sharded adapter: `@socket.io/redis-adapter`'s `createShardedAdapter` (Redis ≥ 7,
//! `SPUBLISH` / `SSUBSCRIBE`), speaking socket.io-adapter's ClusterAdapter messages
//! `{type, data, uid, nsp}`.
//!
//! * every message on `prefix#nsp#`, except — in the dynamic modes — a broadcast without
//!   acknowledgement to exactly one room, which travels on `prefix#nsp#room#` (only the
//!   servers having that room subscribe to it);
//! * answers on the requester's channel `prefix#nsp#<uid>#`;
//! * JSON, or msgpack for the messages that may carry binary when they do;
//! * the number of servers is `PUBSUB SHARDNUMSUB prefix#nsp#`.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio_protocol::socket::Value;
use sockio_server::adapter::{
    AckSink, Adapter, BoxFuture, BroadcastOptions, NamespaceHandle, RemoteSocketData,
};
use sockio_server::{AdapterError, Args, BroadcastAckError, Room};

use crate::common::{Common, ReadySender};
use crate::conn::{Connection, Inbox};
use crate::remote::{self, Membership};
use crate::requests::{self, lock, AckAnswer, Answers};
use crate::wire::{self, obj, str_value};
use crate::{Options, SubscriptionMode};

const BROADCAST: u64 = 3;
const SOCKETS_JOIN: u64 = 4;
const SOCKETS_LEAVE: u64 = 5;
const DISCONNECT_SOCKETS: u64 = 6;
const FETCH_SOCKETS: u64 = 7;
const FETCH_SOCKETS_RESPONSE: u64 = 8;
const SERVER_SIDE_EMIT: u64 = 9;
const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
const BROADCAST_CLIENT_COUNT: u64 = 11;
const BROADCAST_ACK: u64 = 12;

pub(crate) struct ShardedAdapter(Arc<Inner>);

struct Inner {
    /// Its `channel` is `prefix#nsp#`.
    common: Common,
    /// `prefix#nsp#uid#`
    response_channel: String,
    /// The room channels this server is subscribed to (dynamic modes).
    room_channels: Mutex<HashMap<String, ()>>,
}

impl Deref for Inner {
    type Target = Common;

    fn deref(&self) -> &Common {
        &self.common
    }
}

/// What socket.io's sharded adapter takes for a socket id: 20 characters (JavaScript's
/// UTF-16 length).
fn looks_like_socket_id(room: &str) -> bool {
    room.len() >= 20 && room.encode_utf16().count() == 20
}

impl ShardedAdapter {
    pub(crate) fn new(
        conn: Arc<Connection>,
        options: Arc<Options>,
        nsp: &str,
        ready: ReadySender,
    ) -> Self {
        let common = Common::new(conn, options, nsp, wire::hex_id(), ready);
        ShardedAdapter(Arc::new(Inner {
            response_channel: format!("{}{}#", common.channel, common.uid),
            common,
            room_channels: Mutex::default(),
        }))
    }
}

/// Whether a message's data may carry binary (then it is msgpack when it does).
fn may_carry_binary(kind: u64) -> bool {
    matches!(
        kind,
        BROADCAST
            | BROADCAST_ACK
            | FETCH_SOCKETS_RESPONSE
            | SERVER_SIDE_EMIT
            | SERVER_SIDE_EMIT_RESPONSE
    )
}

impl Inner {
    fn dynamic(&self) -> bool {
        self.options.subscription_mode != SubscriptionMode::Static
    }

    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Whether a room has a channel of its own (`shouldUseASeparateNamespace`).
    fn separate_channel(&self, private: bool) -> bool {
        match self.options.subscription_mode {
            SubscriptionMode::Dynamic => !private,
            SubscriptionMode::DynamicPrivate => true,
            SubscriptionMode::Static => false,
        }
    }

    fn message(&self, kind: u64, data: Value) -> (bytes::Bytes, Value) {
        let message = obj([
            ("type", Value::from(kind)),
            ("data", data),
            ("uid", str_value(&self.uid)),
            ("nsp", str_value(&self.nsp)),
        ]);
        let payload = if may_carry_binary(kind) && message.has_binary() {
            wire::msgpack(&message)
        } else {
            wire::json(&message)
        };
        (payload, message)
    }

    /// Publishes a message on the namespace's channel, or a room's.
    fn publish(&self, kind: u64, data: Value, channel: Option<String>) {
        let (payload, _) = self.message(kind, data);
        let channel = channel.unwrap_or_else(|| self.channel.clone());
        self.conn.publish(channel, payload, true);
    }

    fn respond(&self, requester: &str, kind: u64, data: Value) {
        self.publish(kind, data, Some(format!("{}{requester}#", self.channel)));
    }

    fn on_message(self: &Arc<Self>, message: &Value) {
        let Some(ns) = self.ns.get() else { return };
        let Some(uid) = message.get("uid").and_then(Value::as_str) else {
            return;
        };
        if uid == self.uid || message.get("nsp").and_then(Value::as_str) != Some(&self.nsp) {
            return;
        }
        let Some(kind) = message.get("type").and_then(Value::as_u64) else {
            return;
        };
        let empty = Value::Object(Vec::new());
        let data = message.get("data").unwrap_or(&empty);
        let opts = data.get("opts").map(wire::opts_of).unwrap_or_default();
        let request_id = data.get("requestId").and_then(Value::as_str);
        match kind {
            BROADCAST => {
                let packet = data.get("packet").and_then(|p| p.get("data"));
                let Some(request_id) = request_id else {
                    remote::broadcast(ns, &opts, packet);
                    return;
                };
                let (me, requester, id) =
                    (Arc::downgrade(self), uid.to_owned(), request_id.to_owned());
                let on_ack = move |answer| {
                    if let Some(me) = me.upgrade() {
                        let data = obj([("requestId", str_value(&id)), ("packet", answer)]);
                        me.respond(&requester, BROADCAST_ACK, data);
                    }
                };
                let Some(count) = remote::broadcast_with_ack(ns, &opts, packet, on_ack) else {
                    return;
                };
                let data = obj([
                    ("requestId", str_value(request_id)),
                    ("clientCount", Value::from(count)),
                ]);
                self.respond(uid, BROADCAST_CLIENT_COUNT, data);
            }
            SOCKETS_JOIN => remote::membership(ns, Membership::Join, &opts, data),
            SOCKETS_LEAVE => remote::membership(ns, Membership::Leave, &opts, data),
            DISCONNECT_SOCKETS => remote::membership(ns, Membership::Disconnect, &opts, data),
            FETCH_SOCKETS => {
                let Some(request_id) = request_id else { return };
                let data = obj([
                    ("requestId", str_value(request_id)),
                    ("sockets", remote::sockets(ns, &opts)),
                ]);
                self.respond(uid, FETCH_SOCKETS_RESPONSE, data);
            }
            SERVER_SIDE_EMIT => {
                let packet = data.get("packet");
                if let Some(answer) = remote::server_side(ns, packet, request_id.is_some()) {
                    let request_id = str_value(request_id.unwrap_or_default());
                    let data = obj([("requestId", request_id), ("packet", answer)]);
                    self.respond(uid, SERVER_SIDE_EMIT_RESPONSE, data);
                }
            }
            BROADCAST_CLIENT_COUNT
            | BROADCAST_ACK
            | FETCH_SOCKETS_RESPONSE
            | SERVER_SIDE_EMIT_RESPONSE => self.on_response(message),
            _ => tracing::debug!(kind, "ignoring an unknown message type"),
        }
    }

    fn on_response(&self, message: &Value) {
        let Some(kind) = message.get("type").and_then(Value::as_u64) else {
            return;
        };
        let Some(data) = message.get("data") else {
            return;
        };
        let Some(request_id) = data.get("requestId").and_then(Value::as_str) else {
            return;
        };
        match kind {
            BROADCAST_CLIENT_COUNT => {
                let count = AckAnswer::ClientCount(data.get("clientCount"));
                self.requests.ack(request_id, count);
            }
            BROADCAST_ACK => self
                .requests
                .ack(request_id, AckAnswer::Ack(data.get("packet"))),
            FETCH_SOCKETS_RESPONSE | SERVER_SIDE_EMIT_RESPONSE => {
                self.requests.answer(request_id, data)
            }
            _ => {}
        }
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        self.conn.numsub(&self.channel, true).await
    }

    /// A SOCKETS_JOIN / SOCKETS_LEAVE message: the sockets `opts` selects join or leave
    /// `rooms` on every server.
    fn membership(&self, kind: u64, opts: &BroadcastOptions, rooms: &[Room]) {
        let data = obj([
            ("opts", wire::opts_value(opts)),
            ("rooms", wire::rooms_value(rooms)),
        ]);
        self.publish(kind, data, None);
    }

    /// Asks every other server (message `kind` with `data`, whose `requestId` is `id`)
    /// and gathers each answer's `field` within `timeout`; nothing to ask when this
    /// server is alone.
    async fn ask_others(
        &self,
        (kind, data, id): (u64, Value, String),
        field: &'static str,
        timeout: Duration,
    ) -> Answers {
        let (servers, publish) = (self.server_count(), || self.publish(kind, data, None));
        self.requests
            .ask(id, field, servers, timeout, publish)
            .await
    }

    fn subscribe_room(self: &Arc<Self>, room: &Room) {
        let channel = self.room_channel(room);
        if lock(&self.room_channels)
            .insert(channel.clone(), ())
            .is_some()
        {
            return;
        }
        let weak: std::sync::Weak<dyn Inbox> = Arc::downgrade(self) as std::sync::Weak<dyn Inbox>;
        self.conn.route_exact(&channel, weak);
        let conn = self.conn.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.ssubscribe(channel.clone()).await {
                tracing::warn!(%channel, error = %e, "redis ssubscribe failed");
            }
        });
    }

    fn unsubscribe_room(&self, room: &Room) {
        let channel = self.room_channel(room);
        if lock(&self.room_channels).remove(&channel).is_none() {
            return;
        }
        self.conn.unroute(std::slice::from_ref(&channel), None);
        let conn = self.conn.clone();
        tokio::spawn(async move {
            let _ = conn.sunsubscribe(channel).await;
        });
    }
}

impl Inbox for Inner {
    fn receive(self: Arc<Self>, channel: &str, payload: &[u8]) {
        let Some(message) = wire::decode(payload) else {
            tracing::debug!(channel, "ignoring a message that does not decode");
            return;
        };
        if channel == self.response_channel {
            self.on_response(&message);
        } else {
            self.on_message(&message);
        }
    }
}

/// A namespace that goes away (a dynamic namespace cleaned up when empty) leaves its
/// channels, so that the other servers stop counting this one there.
impl Drop for ShardedAdapter {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(self.close());
        }
    }
}

impl Adapter for ShardedAdapter {
    fn init(&self, namespace: NamespaceHandle) -> BoxFuture<'static, Result<(), AdapterError>> {
        let inner = self.0.clone();
        let _ = inner.ns.set(namespace);
        let weak: std::sync::Weak<dyn Inbox> = Arc::downgrade(&inner) as std::sync::Weak<dyn Inbox>;
        inner.conn.route_exact(&inner.channel, weak.clone());
        inner.conn.route_exact(&inner.response_channel, weak);
        Box::pin(async move {
            let result = async {
                inner.conn.ssubscribe(inner.channel.clone()).await?;
                inner.conn.ssubscribe(inner.response_channel.clone()).await
            }
            .await;
            inner.subscribed(result)
        })
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let inner = self.0.clone();
        Box::pin(async move {
            let mut channels = vec![inner.channel.clone(), inner.response_channel.clone()];
            channels.extend(lock(&inner.room_channels).drain().map(|(c, ())| c));
            inner.conn.unroute(&channels, None);
            for c in channels {
                let _ = inner.conn.sunsubscribe(c).await;
            }
        })
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let inner = self.0.clone();
        Box::pin(async move { inner.server_count().await })
    }

    fn broadcast(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &Args,
    ) -> Result<(), AdapterError> {
        let inner = &self.0;
        let channel = match &opts.rooms[..] {
            [room]
                if inner.options.subscription_mode == SubscriptionMode::DynamicPrivate
                    || (inner.options.subscription_mode == SubscriptionMode::Dynamic
                        && !looks_like_socket_id(room)) =>
            {
                Some(inner.room_channel(room))
            }
            _ => None,
        };
        let data = obj([
            ("packet", wire::event_packet(event, &args.values(), None)),
            ("opts", wire::opts_value(opts)),
        ]);
        inner.publish(BROADCAST, data, channel);
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        args: &Args,
        replies: AckSink,
    ) -> Result<(), AdapterError> {
        let inner = &self.0;
        let request_id = wire::hex_id();
        let timeout = inner.options.requests_timeout;
        (inner.requests).track_acks(request_id.clone(), replies, opts, timeout);
        let data = obj([
            ("packet", wire::event_packet(event, &args.values(), None)),
            ("requestId", str_value(&request_id)),
            ("opts", wire::opts_value(opts)),
        ]);
        inner.publish(BROADCAST, data, None);
        Ok(())
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let inner = self.0.clone();
        let inner_timeout = inner.options.requests_timeout;
        let opts_value = wire::opts_value(opts);
        let timeout = opts
            .flags
            .timeout
            .map(Duration::from_millis)
            .unwrap_or(inner_timeout);
        Box::pin(async move {
            let request_id = wire::hex_id();
            let data = obj([("opts", opts_value), ("requestId", str_value(&request_id))]);
            let request = (FETCH_SOCKETS, data, request_id);
            requests::sockets(inner.ask_others(request, "sockets", timeout).await)
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.0.membership(SOCKETS_JOIN, opts, rooms);
        Ok(())
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.0.membership(SOCKETS_LEAVE, opts, rooms);
        Ok(())
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        let data = obj([
            ("opts", wire::opts_value(opts)),
            ("close", Value::Bool(close)),
        ]);
        self.0.publish(DISCONNECT_SOCKETS, data, None);
        Ok(())
    }

    /// socket.io's sharded adapter has no cluster-wide `allRooms`: only this server's
    /// rooms count, so no other room is reported.
    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn server_side_emit(&self, args: Vec<Value>) -> Result<(), AdapterError> {
        self.0.publish(
            SERVER_SIDE_EMIT,
            obj([("packet", Value::Array(args))]),
            None,
        );
        Ok(())
    }

    fn server_side_emit_with_ack(
        &self,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>> {
        let inner = self.0.clone();
        Box::pin(async move {
            let request_id = wire::hex_id();
            let data = obj([
                ("packet", Value::Array(args)),
                ("requestId", str_value(&request_id)),
            ]);
            let request = (SERVER_SIDE_EMIT, data, request_id);
            requests::server_side(inner.ask_others(request, "packet", timeout).await)
        })
    }

    fn room_created(&self, room: &Room, private: bool) {
        if self.0.dynamic() && self.0.separate_channel(private) {
            self.0.subscribe_room(room);
        }
    }

    fn room_deleted(&self, room: &Room, private: bool) {
        if self.0.dynamic() && self.0.separate_channel(private) {
            self.0.unsubscribe_room(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_id_lookalikes_count_utf16_units() {
        assert!(looks_like_socket_id("TeMe_Ask-ki-RUIPAAAA"));
        assert!(!looks_like_socket_id("TeMe_Ask-ki-RUIPAAA"));
        assert!(!looks_like_socket_id("public-room"));
        // 19 "é" are 38 bytes but 19 UTF-16 units; one emoji is two units
        assert!(looks_like_socket_id(&format!("{}x", "é".repeat(19))));
        assert!(looks_like_socket_id(&format!("{}🎉", "a".repeat(18))));
    }

    #[test]
    fn binary_messages_are_msgpack_others_json() {
        assert!(may_carry_binary(BROADCAST) && may_carry_binary(SERVER_SIDE_EMIT_RESPONSE));
        assert!(!may_carry_binary(SOCKETS_JOIN) && !may_carry_binary(BROADCAST_CLIENT_COUNT));
    }
}
