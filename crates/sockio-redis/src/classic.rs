//! The classic adapter: `@socket.io/redis-adapter`'s `createAdapter`, over `PUBLISH`,
//! `PSUBSCRIBE` and `SUBSCRIBE`.
//!
//! Per namespace `nsp` and key `key`:
//!
//! * broadcasts: msgpack `[uid, {type: 2, data, nsp}, {rooms, except, flags}]` on
//!   `key#nsp#` (or `key#nsp#room#` for exactly one room), received through the pattern
//!   `key#nsp#*`;
//! * requests on `key-request#nsp#` (JSON, msgpack for broadcasts with acks), responses
//!   on `key-response#nsp#` or, with `publish_on_specific_response_channel`,
//!   `key-response#nsp#<requester uid>#`; both response channels are always listened to.
//! * the number of servers is `PUBSUB NUMSUB key-request#nsp#`.

use std::ops::Deref;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sockio_protocol::socket::Value;
use sockio_server::adapter::{
    AckSink, Adapter, BoxFuture, BroadcastOptions, NamespaceHandle, RemoteSocketData,
};
use sockio_server::{AdapterError, Args, BroadcastAckError, Room};

use crate::common::{Common, ReadySender};
use crate::conn::{Connection, Inbox};
use crate::remote::{self, Membership};
use crate::requests::{self, AckAnswer, Answers};
use crate::wire::{self, obj, str_value};
use crate::Options;

const SOCKETS: u64 = 0;
const ALL_ROOMS: u64 = 1;
const REMOTE_JOIN: u64 = 2;
const REMOTE_LEAVE: u64 = 3;
const REMOTE_DISCONNECT: u64 = 4;
const REMOTE_FETCH: u64 = 5;
const SERVER_SIDE_EMIT: u64 = 6;
const BROADCAST: u64 = 7;
const BROADCAST_CLIENT_COUNT: u64 = 8;
const BROADCAST_ACK: u64 = 9;

pub(crate) struct ClassicAdapter(Arc<Inner>);

struct Inner {
    common: Common,
    request_channel: String,
    response_channel: String,
    specific_response_channel: String,
}

impl Deref for Inner {
    type Target = Common;

    fn deref(&self) -> &Common {
        &self.common
    }
}

impl ClassicAdapter {
    pub(crate) fn new(
        conn: Arc<Connection>,
        options: Arc<Options>,
        nsp: &str,
        ready: ReadySender,
    ) -> Self {
        let uid = wire::uid2(6);
        let key = &options.key;
        let response_channel = format!("{key}-response#{nsp}#");
        ClassicAdapter(Arc::new(Inner {
            request_channel: format!("{key}-request#{nsp}#"),
            specific_response_channel: format!("{response_channel}{uid}#"),
            response_channel,
            common: Common::new(conn, options, nsp, uid, ready),
        }))
    }
}

impl Inner {
    fn ns(&self) -> Option<&NamespaceHandle> {
        self.ns.get()
    }

    fn publish(&self, channel: String, payload: bytes::Bytes) {
        self.conn.publish(channel, payload, false);
    }

    fn request(&self, request: &Value, msgpack: bool) {
        let payload = if msgpack {
            wire::msgpack(request)
        } else {
            wire::json(request)
        };
        self.publish(self.request_channel.clone(), payload);
    }

    /// Where the answer to a request from `requester` goes.
    fn response_channel_for(&self, requester: Option<&str>) -> String {
        match requester {
            Some(uid) if self.options.publish_on_specific_response_channel => {
                format!("{}{uid}#", self.response_channel)
            }
            _ => self.response_channel.clone(),
        }
    }

    fn on_broadcast(&self, channel: &str, payload: &[u8]) {
        let Some(ns) = self.ns() else { return };
        let room = &channel[self.channel.len()..];
        if !room.is_empty() && !room.ends_with('#') {
            return;
        }
        let Ok(Value::Array(parts)) = sockio_protocol::socket::decode_msgpack_value(payload) else {
            tracing::debug!(channel, "ignoring a broadcast that does not decode");
            return;
        };
        let [uid, packet, opts, ..] = &parts[..] else {
            return;
        };
        if uid.as_str() == Some(self.uid.as_str()) {
            return;
        }
        let nsp = packet.get("nsp").and_then(Value::as_str).unwrap_or("/");
        if nsp != self.nsp {
            return;
        }
        remote::broadcast(ns, &wire::opts_of(opts), packet.get("data"));
    }

    fn on_request(self: &Arc<Self>, payload: &[u8]) {
        let Some(ns) = self.ns() else { return };
        let Some(request) = wire::decode(payload) else {
            tracing::debug!("ignoring a malformed request");
            return;
        };
        let Some(kind) = request.get("type").and_then(Value::as_u64) else {
            return;
        };
        let uid = request.get("uid").and_then(Value::as_str);
        let own = uid == Some(self.uid.as_str());
        let request_id = request.get("requestId").and_then(Value::as_str);
        let opts = request.get("opts").map(wire::opts_of);
        // This node applied its own operations before publishing them, and answers
        // none of its requests.
        if own || request_id.is_some_and(|id| self.requests.is_ours(id)) {
            return;
        }
        match kind {
            SOCKETS | REMOTE_FETCH => {
                let (Some(request_id), Some(opts)) = (request_id, opts) else {
                    return;
                };
                let sockets = if kind == SOCKETS {
                    let sockets = ns.fetch_sockets(&opts);
                    Value::Array(sockets.iter().map(|s| str_value(&s.id)).collect())
                } else {
                    remote::sockets(ns, &opts)
                };
                let response = obj([("requestId", str_value(request_id)), ("sockets", sockets)]);
                self.publish(self.response_channel_for(uid), wire::json(&response));
            }
            ALL_ROOMS => {
                let Some(request_id) = request_id else { return };
                let response = obj([
                    ("requestId", str_value(request_id)),
                    ("rooms", wire::rooms_value(&ns.rooms())),
                ]);
                self.publish(self.response_channel_for(uid), wire::json(&response));
            }
            REMOTE_JOIN | REMOTE_LEAVE | REMOTE_DISCONNECT => {
                let op = match kind {
                    REMOTE_JOIN => Membership::Join,
                    REMOTE_LEAVE => Membership::Leave,
                    _ => Membership::Disconnect,
                };
                if let Some(opts) = opts {
                    remote::membership(ns, op, &opts, &request);
                    return;
                }
                // The legacy form: one socket, answered when it is here.
                let (Some(sid), Some(request_id)) =
                    (request.get("sid").and_then(Value::as_str), request_id)
                else {
                    return;
                };
                let one = BroadcastOptions::new(vec![Room::from(sid)], Vec::new());
                if ns.fetch_sockets(&one).is_empty() {
                    return;
                }
                let fields = match (op, request.get("room")) {
                    (Membership::Disconnect, _) => request.clone(),
                    (_, Some(room @ Value::String(_))) => {
                        obj([("rooms", Value::Array(vec![room.clone()]))])
                    }
                    _ => return,
                };
                remote::membership(ns, op, &one, &fields);
                let response = obj([("requestId", str_value(request_id))]);
                self.publish(self.response_channel_for(uid), wire::json(&response));
            }
            SERVER_SIDE_EMIT => {
                let data = request.get("data");
                if let Some(answer) = remote::server_side(ns, data, request_id.is_some()) {
                    // Always on the shared response channel, as Node does.
                    let response = obj([
                        ("type", Value::from(SERVER_SIDE_EMIT)),
                        ("requestId", str_value(request_id.unwrap_or_default())),
                        ("data", answer),
                    ]);
                    self.publish(self.response_channel.clone(), wire::json(&response));
                }
            }
            BROADCAST => {
                let (Some(request_id), Some(opts), Some(packet)) =
                    (request_id, opts, request.get("packet"))
                else {
                    return;
                };
                let channel = self.response_channel_for(uid);
                let (me, ack_channel, ack_id) =
                    (Arc::downgrade(self), channel.clone(), request_id.to_owned());
                let on_ack = move |answer| {
                    if let Some(me) = me.upgrade() {
                        let response = obj([
                            ("type", Value::from(BROADCAST_ACK)),
                            ("requestId", str_value(&ack_id)),
                            ("packet", answer),
                        ]);
                        me.publish(ack_channel.clone(), wire::msgpack(&response));
                    }
                };
                let Some(count) = remote::broadcast_with_ack(ns, &opts, packet.get("data"), on_ack)
                else {
                    return;
                };
                let response = obj([
                    ("type", Value::from(BROADCAST_CLIENT_COUNT)),
                    ("requestId", str_value(request_id)),
                    ("clientCount", Value::from(count)),
                ]);
                self.publish(channel, wire::json(&response));
            }
            _ => tracing::debug!(kind, "ignoring an unknown request type"),
        }
    }

    fn on_response(&self, payload: &[u8]) {
        let Some(response) = wire::decode(payload) else {
            tracing::debug!("ignoring a malformed response");
            return;
        };
        let Some(request_id) = response.get("requestId").and_then(Value::as_str) else {
            return;
        };
        if self.requests.is_ack(request_id) {
            let answer = match response.get("type").and_then(Value::as_u64) {
                Some(BROADCAST_CLIENT_COUNT) => AckAnswer::ClientCount(response.get("clientCount")),
                Some(BROADCAST_ACK) => AckAnswer::Ack(response.get("packet")),
                _ => return,
            };
            self.requests.ack(request_id, answer);
            return;
        }
        self.requests.answer(request_id, &response);
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        self.conn.numsub(&self.request_channel, false).await
    }

    /// A REMOTE_JOIN / REMOTE_LEAVE request: the sockets `opts` selects join or leave
    /// `rooms` on every server.
    fn membership(&self, kind: u64, opts: &BroadcastOptions, rooms: &[Room]) {
        let request = obj([
            ("uid", str_value(&self.uid)),
            ("type", Value::from(kind)),
            ("opts", wire::selector_value(opts)),
            ("rooms", wire::rooms_value(rooms)),
        ]);
        self.request(&request, false);
    }

    /// Asks every other server (request `kind`, with `extra` after its id) and gathers
    /// each answer's `field` within `timeout`; nothing to ask when this server is alone.
    async fn ask_others(
        &self,
        kind: u64,
        extra: Option<(&str, Value)>,
        field: &'static str,
        timeout: Duration,
    ) -> Answers {
        let request_id = wire::uid2(6);
        let mut request = obj([
            ("uid", str_value(&self.uid)),
            ("requestId", str_value(&request_id)),
            ("type", Value::from(kind)),
        ]);
        if let (Some((name, value)), Value::Object(fields)) = (extra, &mut request) {
            fields.push((name.to_owned(), value));
        }
        let (servers, publish) = (self.server_count(), || self.request(&request, false));
        (self.requests)
            .ask(request_id, field, servers, timeout, publish)
            .await
    }
}

impl Inbox for Inner {
    fn receive(self: Arc<Self>, channel: &str, payload: &[u8]) {
        if channel == self.request_channel {
            self.on_request(payload);
        } else if channel == self.response_channel || channel == self.specific_response_channel {
            self.on_response(payload);
        } else if channel.starts_with(&self.channel) {
            self.on_broadcast(channel, payload);
        }
    }
}

/// A namespace that goes away (a dynamic namespace cleaned up when empty) leaves its
/// channels, so that the other servers stop counting this one there.
impl Drop for ClassicAdapter {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(self.close());
        }
    }
}

impl Adapter for ClassicAdapter {
    fn init(&self, namespace: NamespaceHandle) -> BoxFuture<'static, Result<(), AdapterError>> {
        let inner = self.0.clone();
        let _ = inner.ns.set(namespace);
        let weak: Weak<dyn Inbox> = Arc::downgrade(&inner) as Weak<dyn Inbox>;
        for c in [
            &inner.request_channel,
            &inner.response_channel,
            &inner.specific_response_channel,
        ] {
            inner.conn.route_exact(c, weak.clone());
        }
        inner.conn.route_prefix(&inner.channel, weak);
        Box::pin(async move {
            let result = async {
                inner.conn.psubscribe(format!("{}*", inner.channel)).await?;
                inner
                    .conn
                    .subscribe(vec![
                        inner.request_channel.clone(),
                        inner.response_channel.clone(),
                        inner.specific_response_channel.clone(),
                    ])
                    .await
            }
            .await;
            inner.subscribed(result)
        })
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let inner = self.0.clone();
        Box::pin(async move {
            inner.conn.unroute(
                &[
                    inner.request_channel.clone(),
                    inner.response_channel.clone(),
                    inner.specific_response_channel.clone(),
                ],
                Some(&inner.channel),
            );
            let _ = inner.conn.punsubscribe(format!("{}*", inner.channel)).await;
            let _ = inner
                .conn
                .unsubscribe(vec![
                    inner.request_channel.clone(),
                    inner.response_channel.clone(),
                    inner.specific_response_channel.clone(),
                ])
                .await;
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
        let packet = wire::event_packet(event, &args.values(), Some(&inner.nsp));
        let message = Value::Array(vec![str_value(&inner.uid), packet, wire::opts_value(opts)]);
        let channel = match &opts.rooms[..] {
            [room] => format!("{}{room}#", inner.channel),
            _ => inner.channel.clone(),
        };
        inner.publish(channel, wire::msgpack(&message));
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
        let request_id = wire::uid2(6);
        let timeout = inner.options.requests_timeout;
        (inner.requests).track_acks(request_id.clone(), replies, opts, timeout);
        let request = obj([
            ("uid", str_value(&inner.uid)),
            ("requestId", str_value(&request_id)),
            ("type", Value::from(BROADCAST)),
            (
                "packet",
                wire::event_packet(event, &args.values(), Some(&inner.nsp)),
            ),
            ("opts", wire::opts_value(opts)),
        ]);
        inner.request(&request, true);
        Ok(())
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let inner = self.0.clone();
        let selector = wire::selector_value(opts);
        Box::pin(async move {
            let timeout = inner.options.requests_timeout;
            let extra = Some(("opts", selector));
            requests::sockets(
                inner
                    .ask_others(REMOTE_FETCH, extra, "sockets", timeout)
                    .await,
            )
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.0.membership(REMOTE_JOIN, opts, rooms);
        Ok(())
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.0.membership(REMOTE_LEAVE, opts, rooms);
        Ok(())
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        let inner = &self.0;
        let request = obj([
            ("uid", str_value(&inner.uid)),
            ("type", Value::from(REMOTE_DISCONNECT)),
            ("opts", wire::selector_value(opts)),
            ("close", Value::Bool(close)),
        ]);
        inner.request(&request, false);
        Ok(())
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let inner = self.0.clone();
        Box::pin(async move {
            let timeout = inner.options.requests_timeout;
            requests::rooms(inner.ask_others(ALL_ROOMS, None, "rooms", timeout).await)
        })
    }

    fn server_side_emit(&self, args: Vec<Value>) -> Result<(), AdapterError> {
        let inner = &self.0;
        let request = obj([
            ("uid", str_value(&inner.uid)),
            ("type", Value::from(SERVER_SIDE_EMIT)),
            ("data", Value::Array(args)),
        ]);
        inner.request(&request, false);
        Ok(())
    }

    fn server_side_emit_with_ack(
        &self,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>> {
        let inner = self.0.clone();
        Box::pin(async move {
            let extra = Some(("data", Value::Array(args)));
            let answers = inner.ask_others(SERVER_SIDE_EMIT, extra, "data", timeout);
            requests::server_side(answers.await)
        })
    }
}
