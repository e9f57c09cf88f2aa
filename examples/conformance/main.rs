//! The conformance server: the whole Engine.IO / Socket.IO surface behind fixed handlers,
//! so black-box suites written for socket.io 4.8 run against sockio unchanged
//! (`shared/spec/conformance-server.md`). It is also a tour of the API.
//!
//! ```text
//! PORT=3000 cargo run --release --example conformance
//! ```
//!
//! * `/engine.io/`: a bare Engine.IO echo — every message goes straight back.
//! * `/socket.io/`: Socket.IO with namespaces `/`, `/custom`, `/restricted` (auth
//!   middleware) and dynamic `/dyn-…`, every socket getting the handlers of `install`.
//! * anything else: 404.
//!
//! With `REDIS_URL` set, the server is one node of a cluster (`REDIS_ADAPTER=classic`
//! or `sharded`, `REDIS_KEY`, `NODE_ID`): every namespace uses a `sockio-redis` adapter,
//! so sockio and Node.js nodes on the same Redis serve the same clients as one server.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio::engine::cors::{AllowOrigin, Cors};
use sockio::engine::{Engine, EngineConfig, Handler, Message};
use sockio::server::{
    args, Args, Bytes, ConnectError, Event, Namespace, Parser, RemoteSocket, Room, Socket,
    SocketId, SocketIo, Value,
};
use sockio_redis::{AdapterKind, RedisAdapter, RedisAdapterOptions};
use tower_layer::Layer;

/// Sends every message back to its sender.
struct Echo;

impl Handler<()> for Echo {
    fn on_message(&self, socket: &sockio::engine::Socket<()>, message: Message) {
        let _ = socket.send(message);
    }
}

/// A socket of a namespace: (namespace, socket id).
type SocketKey = (String, String);

/// How sockets left, for `last-disconnect-reason`: (reason, rooms) by socket, and the
/// order they came in, to forget the oldest.
#[derive(Default)]
struct Disconnects {
    by_socket: HashMap<SocketKey, (String, Vec<String>)>,
    order: VecDeque<SocketKey>,
}

/// What the conformance handlers remember across sockets.
#[derive(Default)]
struct Memory {
    disconnects: Mutex<Disconnects>,
    /// Server-side `cluster-note` events received, by namespace.
    notes: Mutex<HashMap<String, Vec<Vec<Value>>>>,
}

const KEEP: usize = 20_000;

fn engine_config(path: &str) -> EngineConfig {
    EngineConfig::builder()
        .path(path)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .allow_eio3(true)
        .cors(Cors::new(AllowOrigin::Any))
        .build()
}

/// Acknowledges with no arguments, if the client asked ("done").
fn done(ev: &mut Event) {
    let _ = ev.ack(args![]);
}

/// A room or a list of rooms.
fn rooms_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The socket's rooms, sorted, its own id left out.
fn sorted_rooms(socket: &Socket) -> Vec<String> {
    sorted_rooms_of(&socket.rooms(), socket.id())
}

fn sorted_rooms_of(rooms: &[Room], id: &SocketId) -> Vec<String> {
    let mut rooms: Vec<String> = rooms
        .iter()
        .filter(|r| r.as_str() != id.as_str())
        .map(|r| r.to_string())
        .collect();
    rooms.sort();
    rooms
}

fn sorted_ids(sockets: Vec<RemoteSocket>) -> Vec<String> {
    let mut ids: Vec<String> = sockets.iter().map(|s| s.id().to_string()).collect();
    ids.sort();
    ids
}

/// `{"error": message}`.
fn error_reply(e: &dyn std::error::Error) -> Value {
    Value::Object(vec![("error".into(), Value::from(e.to_string()))])
}

/// Sorts values by their compact JSON, compared as JavaScript compares strings.
fn sort_by_json(values: &mut [Value]) {
    values.sort_by_cached_key(|v| v.to_json().encode_utf16().collect::<Vec<u16>>());
}

/// `{"rooms": …, "except": …}` or null → the selection on `ns`.
fn select(ns: &Namespace, selector: Option<&Value>) -> sockio::server::BroadcastOperator {
    let op = ns.all();
    let op = op.to(rooms_of(selector.and_then(|s| s.get("rooms"))));
    op.except(rooms_of(selector.and_then(|s| s.get("except"))))
}

fn rest(ev: &Event, from: usize) -> Args {
    Args::from(ev.args().iter().skip(from).cloned().collect::<Vec<_>>())
}

fn event_name(ev: &Event, i: usize) -> Option<String> {
    ev.args().get(i).and_then(Value::as_str).map(str::to_owned)
}

fn request_binary() -> Value {
    let bin = |b: &'static [u8]| Value::Binary(Bytes::from_static(b));
    Value::Object(vec![
        ("a".into(), bin(&[1, 2, 3])),
        (
            "nested".into(),
            Value::Object(vec![
                (
                    "list".into(),
                    Value::Array(vec![
                        bin(&[4, 5]),
                        Value::from("text"),
                        Value::Object(vec![("deep".into(), bin(&[6]))]),
                    ]),
                ),
                ("n".into(), Value::from(42)),
            ]),
        ),
        ("last".into(), bin(&[0xff, 0x00, 0x80])),
    ])
}

/// The handlers of §4.3 and §6.4, on every socket of every namespace.
fn install(socket: &Socket, memory: &Arc<Memory>, node_id: &Arc<str>) {
    let _ = socket.emit("auth", socket.auth());
    let ns = socket.namespace().clone();

    socket.on("message", |s, mut ev| {
        let _ = s.emit("message-back", ev.take_args());
    });
    socket.on("message-with-ack", |_, mut ev| {
        let args = ev.clone_args();
        let _ = ev.ack(args);
    });
    socket.on("server-ack", |s, mut ev| {
        let reply = s.emit_with_ack("server-ack-request", ev.clone_args());
        let (s, ack) = (s.clone(), ev.take_ack());
        tokio::spawn(async move {
            if let Ok(r) = reply.await {
                let _ = s.emit("server-ack-response", Args::from(r));
            }
            if let Some(ack) = ack {
                let _ = ack.send(args![]);
            }
        });
    });
    socket.on("server-ack-timeout", |s, mut ev| {
        let ms = ev.args().first().and_then(Value::as_u64).unwrap_or(0);
        let reply = s
            .timeout(Duration::from_millis(ms))
            .emit_with_ack("server-ack-request", ev.clone_args());
        let (s, ack) = (s.clone(), ev.take_ack());
        tokio::spawn(async move {
            let _ = match reply.await {
                Ok(r) => {
                    let mut out = vec![Value::from("ok")];
                    out.extend(r);
                    s.emit("server-ack-timeout-result", Args::from(out))
                }
                Err(_) => s.emit("server-ack-timeout-result", "timeout"),
            };
            if let Some(ack) = ack {
                let _ = ack.send(args![]);
            }
        });
    });
    socket.on("join", |s, mut ev| {
        s.join(rooms_of(ev.args().first()));
        let _ = ev.ack(sorted_rooms(s));
    });
    socket.on("leave", |s, mut ev| {
        s.leave(rooms_of(ev.args().first()));
        let _ = ev.ack(sorted_rooms(s));
    });
    socket.on("get-rooms", |s, mut ev| {
        let _ = ev.ack(sorted_rooms(s));
    });
    socket.on_async("room-members", |s, mut ev| async move {
        let room = rooms_of(ev.args().first());
        let _ = match s.namespace().to(room).fetch_sockets().await {
            Ok(members) => ev.ack(sorted_ids(members)),
            Err(e) => ev.ack(error_reply(&e)),
        };
    });
    socket.on_async("namespace-sockets", |s, mut ev| async move {
        let _ = match s.namespace().fetch_sockets().await {
            Ok(members) => ev.ack(sorted_ids(members)),
            Err(e) => ev.ack(error_reply(&e)),
        };
    });
    socket.on("to-rooms", |s, mut ev| {
        if let Some(event) = event_name(&ev, 1) {
            let _ = s.to(rooms_of(ev.args().first())).emit(&event, rest(&ev, 2));
        }
        done(&mut ev);
    });
    socket.on("io-to-rooms", |s, mut ev| {
        if let Some(event) = event_name(&ev, 1) {
            let _ = s
                .namespace()
                .to(rooms_of(ev.args().first()))
                .emit(&event, rest(&ev, 2));
        }
        done(&mut ev);
    });
    socket.on("to-rooms-except", |s, mut ev| {
        if let Some(event) = event_name(&ev, 2) {
            let _ = s
                .namespace()
                .to(rooms_of(ev.args().first()))
                .except(rooms_of(ev.args().get(1)))
                .emit(&event, rest(&ev, 3));
        }
        done(&mut ev);
    });
    socket.on("broadcast", |s, mut ev| {
        if let Some(event) = event_name(&ev, 0) {
            let _ = s.broadcast().emit(&event, rest(&ev, 1));
        }
        done(&mut ev);
    });
    socket.on("emit-all", |s, mut ev| {
        if let Some(event) = event_name(&ev, 0) {
            let _ = s.namespace().emit(&event, rest(&ev, 1));
        }
        done(&mut ev);
    });
    socket.on("to-socket", |s, mut ev| {
        if let (Some(id), Some(event)) = (event_name(&ev, 0), event_name(&ev, 1)) {
            let _ = s.namespace().to(id).emit(&event, rest(&ev, 2));
        }
        done(&mut ev);
    });
    socket.on("volatile", |s, mut ev| {
        if let Some(event) = event_name(&ev, 0) {
            let _ = s.volatile().emit(&event, rest(&ev, 1));
        }
        done(&mut ev);
    });
    socket.on("request-binary", |s, mut ev| {
        let _ = s.emit("binary-data", request_binary());
        done(&mut ev);
    });
    socket.on("get-handshake", |s, mut ev| {
        let query: Value = s
            .handshake()
            .query()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        let reply = Value::Object(vec![
            ("auth".into(), s.auth().clone()),
            ("query".into(), query),
        ]);
        let _ = ev.ack(reply);
    });
    socket.on("disconnect-me", |s, ev| {
        if matches!(ev.args().first(), Some(Value::Bool(true))) {
            s.disconnect_and_close();
        } else {
            s.disconnect();
        }
    });
    socket.on("close-transport", |s, _| {
        s.conn().close();
    });
    let mem = memory.clone();
    socket.on("last-disconnect-reason", move |_, mut ev| {
        let key = (
            event_name(&ev, 0).unwrap_or_default(),
            event_name(&ev, 1).unwrap_or_default(),
        );
        let found = mem
            .disconnects
            .lock()
            .ok()
            .and_then(|d| d.by_socket.get(&key).cloned());
        let reply = match found {
            Some((reason, rooms)) => Value::Object(vec![
                ("reason".into(), Value::from(reason)),
                ("rooms".into(), rooms.into_iter().map(Value::from).collect()),
            ]),
            None => Value::Null,
        };
        let _ = ev.ack(reply);
    });

    // §6.4, as the only node of a cluster.
    let id = node_id.clone();
    socket.on("node-id", move |_, mut ev| {
        let _ = ev.ack(&*id);
    });
    socket.on_async("server-count", |s, mut ev| async move {
        let _ = match s.namespace().server_count().await {
            Ok(n) => ev.ack(n),
            Err(e) => ev.ack(error_reply(&e)),
        };
    });
    socket.on("set-data", |s, mut ev| {
        let _ = s.set_data(ev.args().first().cloned().unwrap_or(Value::Null));
        done(&mut ev);
    });
    socket.on_async("fetch-sockets", |s, mut ev| async move {
        let selected = select(&s.namespace(), ev.args().first());
        let mut sockets = match selected.fetch_sockets().await {
            Ok(sockets) => sockets,
            Err(e) => {
                let _ = ev.ack(error_reply(&e));
                return;
            }
        };
        sockets.sort_by(|a, b| a.id().cmp(b.id()));
        let list: Value = sockets
            .iter()
            .map(|s| {
                Value::Object(vec![
                    ("id".into(), Value::from(s.id().as_str())),
                    (
                        "rooms".into(),
                        sorted_rooms_of(s.rooms(), s.id())
                            .into_iter()
                            .map(Value::from)
                            .collect(),
                    ),
                    ("data".into(), s.data_value().clone()),
                    ("auth".into(), s.handshake().auth.clone()),
                ])
            })
            .collect();
        let _ = ev.ack(list);
    });
    socket.on("sockets-join", |s, mut ev| {
        let _ = select(&s.namespace(), ev.args().first()).sockets_join(rooms_of(ev.args().get(1)));
        done(&mut ev);
    });
    socket.on("sockets-leave", |s, mut ev| {
        let _ = select(&s.namespace(), ev.args().first()).sockets_leave(rooms_of(ev.args().get(1)));
        done(&mut ev);
    });
    socket.on("disconnect-sockets", |s, mut ev| {
        let close = matches!(ev.args().get(1), Some(Value::Bool(true)));
        let selected = select(&s.namespace(), ev.args().first());
        done(&mut ev);
        let _ = if close {
            selected.disconnect_and_close_sockets()
        } else {
            selected.disconnect_sockets()
        };
    });
    socket.on("emit-local", |s, mut ev| {
        if let Some(event) = event_name(&ev, 0) {
            let _ = s.namespace().local().emit(&event, rest(&ev, 1));
        }
        done(&mut ev);
    });
    socket.on("server-side-emit", |s, mut ev| {
        let _ = s
            .namespace()
            .server_side_emit("cluster-note", ev.clone_args());
        done(&mut ev);
    });
    let mem = memory.clone();
    let nsp = ns.name().to_owned();
    socket.on("server-side-log", move |_, mut ev| {
        let tag = ev.args().first().cloned().unwrap_or(Value::Null);
        let log: Value = mem
            .notes
            .lock()
            .map(|n| {
                n.get(&nsp)
                    .map(|entries| {
                        entries
                            .iter()
                            .filter(|args| args.first() == Some(&tag))
                            .map(|args| Value::Array(args.clone()))
                            .collect()
                    })
                    .unwrap_or(Value::Array(Vec::new()))
            })
            .unwrap_or(Value::Array(Vec::new()));
        let _ = ev.ack(log);
    });
    socket.on("server-side-emit-with-ack", |s, mut ev| {
        let ask = s.namespace().server_side_emit_with_ack(
            "cluster-ask",
            ev.clone_args(),
            Duration::from_secs(5),
        );
        let mut ack = ev.take_ack();
        tokio::spawn(async move {
            let reply = match ask.await {
                Ok(mut answers) => {
                    sort_by_json(&mut answers);
                    Value::Array(answers)
                }
                Err(e) => {
                    let message = e.to_string();
                    let mut responses = e.responses().to_vec();
                    sort_by_json(&mut responses);
                    Value::Object(vec![
                        ("error".into(), Value::from(message)),
                        ("responses".into(), Value::Array(responses)),
                    ])
                }
            };
            if let Some(ack) = ack.take() {
                let _ = ack.send(reply);
            }
        });
    });
    socket.on("broadcast-with-ack", |s, mut ev| {
        let ms = ev.args().get(1).and_then(Value::as_u64).unwrap_or(0);
        let Some(event) = event_name(&ev, 2) else {
            return done(&mut ev);
        };
        let asked = select(&s.namespace(), ev.args().first())
            .timeout(Duration::from_millis(ms))
            .emit_with_ack(&event, rest(&ev, 3));
        let mut ack = ev.take_ack();
        tokio::spawn(async move {
            let reply = match asked.await {
                Ok(mut responses) => {
                    sort_by_json(&mut responses);
                    Value::Array(responses)
                }
                Err(e) => {
                    let mut responses = e.responses().to_vec();
                    sort_by_json(&mut responses);
                    Value::Object(vec![
                        ("error".into(), Value::from("operation has timed out")),
                        ("responses".into(), Value::Array(responses)),
                    ])
                }
            };
            if let Some(ack) = ack.take() {
                let _ = ack.send(reply);
            }
        });
    });

    // Remember how each socket left, for `last-disconnect-reason`.
    let rooms_at_disconnecting: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = rooms_at_disconnecting.clone();
    socket.on_disconnecting(move |s, _| {
        if let Ok(mut r) = seen.lock() {
            *r = sorted_rooms(s);
        }
    });
    let mem = memory.clone();
    socket.on_disconnect(move |s, reason| {
        let rooms = rooms_at_disconnecting
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let key = (s.namespace_name().to_owned(), s.id().to_string());
        if let Ok(mut d) = mem.disconnects.lock() {
            let d = &mut *d;
            if d.by_socket
                .insert(key.clone(), (reason.as_str().to_owned(), rooms))
                .is_none()
            {
                d.order.push_back(key);
            }
            while d.order.len() > KEEP {
                if let Some(old) = d.order.pop_front() {
                    d.by_socket.remove(&old);
                }
            }
        }
    });
}

fn setup_namespace(ns: &Namespace, memory: &Arc<Memory>, node_id: &Arc<str>) {
    let (m, id) = (memory.clone(), node_id.clone());
    ns.on_connection(move |socket| install(socket, &m, &id));
    let m = memory.clone();
    let name = ns.name().to_owned();
    ns.on_server_side("cluster-note", move |args| {
        if let Ok(mut notes) = m.notes.lock() {
            let log = notes.entry(name.clone()).or_default();
            log.push(args.to_vec());
            if log.len() > KEEP {
                log.remove(0);
            }
        }
    });
    let id = node_id.clone();
    ns.on_server_side_with_ack("cluster-ask", move |args| {
        let mut answer = vec![Value::from(&*id)];
        answer.extend(args.iter().cloned());
        Value::Array(answer)
    });
}

/// The Redis adapter of §6.1: `REDIS_ADAPTER` classic (default) or sharded, `REDIS_KEY`.
async fn connect_redis(url: &str) -> std::io::Result<RedisAdapter> {
    let kind = match std::env::var("REDIS_ADAPTER").as_deref() {
        Err(_) | Ok("classic") => AdapterKind::Classic,
        Ok("sharded") => AdapterKind::Sharded,
        Ok(other) => {
            return Err(std::io::Error::other(format!(
                "REDIS_ADAPTER={other}: classic or sharded"
            )))
        }
    };
    let mut options = RedisAdapterOptions::new(url).kind(kind);
    if let Ok(key) = std::env::var("REDIS_KEY") {
        options = options.key(key);
    }
    RedisAdapter::connect(options)
        .await
        .map_err(std::io::Error::other)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let node_id: Arc<str> = Arc::from(std::env::var("NODE_ID").unwrap_or_default());
    let memory = Arc::new(Memory::default());

    // PARSER=msgpack serves clients using socket.io-msgpack-parser instead.
    let parser = match std::env::var("PARSER").as_deref() {
        Ok("msgpack") => Parser::MsgPack,
        _ => Parser::Default,
    };
    // REDIS_URL: one node of a cluster (§6): every namespace gets a Redis adapter.
    let redis = match std::env::var("REDIS_URL") {
        Ok(url) => Some(connect_redis(&url).await?),
        Err(_) => None,
    };
    let mut builder = SocketIo::builder()
        .engine_config(engine_config("/socket.io/"))
        .connect_timeout(Duration::from_millis(1000))
        .parser(parser);
    if let Some(redis) = &redis {
        builder = builder.adapter(redis.factory());
    }
    let io = builder.build();
    for name in ["/", "/custom"] {
        setup_namespace(&io.of(name), &memory, &node_id);
    }
    let restricted = io.of("/restricted");
    restricted.middleware(|socket| async move {
        match socket.auth().get("token").and_then(Value::as_str) {
            Some("let-me-in") => Ok(()),
            _ => Err(
                ConnectError::new("not authorized").with_data(Value::Object(vec![
                    ("code".into(), Value::from(4001)),
                    ("hint".into(), Value::from("send auth.token")),
                ])),
            ),
        }
    });
    setup_namespace(&restricted, &memory, &node_id);
    let dynamic = io
        .of_regex("^/dyn-[a-z0-9-]+$")
        .map_err(std::io::Error::other)?;
    setup_namespace(&dynamic, &memory, &node_id);

    // Subscribed (so counted by the other nodes) before listening.
    if let Some(redis) = &redis {
        for name in ["/", "/custom", "/restricted"] {
            redis.ready(name).await.map_err(std::io::Error::other)?;
        }
    }

    let echo = Engine::new(engine_config("/engine.io/"), Echo);
    let service = echo.layer().layer(io.service());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    // The Engine.IO echo engine's WebSocket connections are served directly (its suite
    // exercises that path); everything else, Socket.IO included, through hyper.
    echo.serve_with(listener, service).await
}
