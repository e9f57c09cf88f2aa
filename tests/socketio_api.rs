//! Behaviour of the Socket.IO server API (`sockio::server`), driven over real WebSocket
//! connections by a raw Engine.IO v4 / Socket.IO v5 client (`support::raw_client`).
//!
//! Every test builds its own in-process server on an ephemeral port: rooms, disconnect
//! reasons, connection middlewares, listeners, acknowledgements both ways, broadcasts,
//! socket selection, dynamic namespaces, per-socket and server state, typed and binary
//! arguments, reserved names and the connect timeout.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sockio::protocol::socket::PacketData;
use sockio::server::{
    args, AckError, BroadcastAckError, Bytes, ConnectError, DisconnectReason, EmitError, Event,
    Namespace, RemoteSocket, Room, Socket, SocketIo, Value,
};
use support::raw_client::{RawClient, WAIT};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How long a test watches for something that must not happen.
const QUIET: Duration = Duration::from_millis(150);

// --- helpers ----------------------------------------------------------------------------

/// Serves `io` on an ephemeral port of 127.0.0.1 for the rest of the test.
async fn serve(io: &SocketIo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let io = io.clone();
    tokio::spawn(async move {
        let _ = io.serve(listener).await;
    });
    addr
}

fn json(text: &str) -> Value {
    Value::from_json(text).expect("valid JSON")
}

/// Every socket that connects to `ns`, in order.
fn capture(ns: &Namespace) -> mpsc::UnboundedReceiver<Socket> {
    let (tx, rx) = mpsc::unbounded_channel();
    ns.on_connection(move |s| {
        let _ = tx.send(s.clone());
    });
    rx
}

/// `(socket id, reason)` of every socket of `ns` that disconnects.
fn watch_disconnects(ns: &Namespace) -> mpsc::UnboundedReceiver<(String, DisconnectReason)> {
    let (tx, rx) = mpsc::unbounded_channel();
    ns.on_connection(move |s| {
        let tx = tx.clone();
        s.on_disconnect(move |s, reason| {
            let _ = tx.send((s.id().to_string(), reason));
        });
    });
    rx
}

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting on the server side")
        .expect("channel closed")
}

async fn assert_no_recv<T: std::fmt::Debug>(rx: &mut mpsc::UnboundedReceiver<T>) {
    if let Ok(Some(v)) = tokio::time::timeout(QUIET, rx.recv()).await {
        panic!("unexpected {v:?}");
    }
}

/// A shared list of what happened, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// Waits until the log holds at least `n` entries.
    async fn wait_len(&self, n: usize) -> Vec<String> {
        let end = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.get();
            if v.len() >= n {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "log has {v:?}, expected {n} entries"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn names(rooms: Vec<Room>) -> Vec<String> {
    let mut v: Vec<String> = rooms.into_iter().map(|r| r.to_string()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Listener answering `sync` acks: an ack that comes back proves every packet the
/// client sent before it was handled (a connection's packets are handled in order).
fn install_sync(s: &Socket) {
    s.on("sync", |_, mut e| {
        let _ = e.ack(args![]);
    });
}

async fn sync(c: &mut RawClient, nsp: &str) {
    c.emit_with_ack(nsp, "sync", args![], WAIT).await;
}

/// Connects `n` clients to `/`; returns them with their server sockets, same order.
async fn connect_many(
    addr: SocketAddr,
    sockets: &mut mpsc::UnboundedReceiver<Socket>,
    n: usize,
) -> (Vec<RawClient>, Vec<Socket>) {
    let mut clients = Vec::new();
    let mut socks = Vec::new();
    for _ in 0..n {
        let (c, sid) = RawClient::connect_main(addr).await;
        let s = recv(sockets).await;
        assert_eq!(s.id().as_str(), sid);
        clients.push(c);
        socks.push(s);
    }
    (clients, socks)
}

/// Asserts each client gets event `name` exactly once, with `args`.
async fn expect_once(clients: &mut [&mut RawClient], name: &str, args: &[Value]) {
    for c in clients.iter_mut() {
        let ev = c.expect_event(name).await;
        assert_eq!(ev.args, args, "arguments of {name}");
    }
    // one quiet window: a duplicate sent to any of them would be there by its end
    let mut wait = QUIET;
    for c in clients.iter_mut() {
        c.expect_nothing(wait).await;
        wait = Duration::from_millis(5);
    }
}

// --- rooms ------------------------------------------------------------------------------

#[tokio::test]
async fn rooms_join_and_leave_one_or_many_with_own_id_room() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;

    assert_eq!(s.id().as_str(), sid);
    assert_eq!(names(s.rooms()), vec![sid.clone()], "own id room only");

    s.join("a");
    s.join(["b", "c"]);
    s.join(vec!["d".to_owned(), "a".to_owned()]);
    assert_eq!(
        names(s.rooms()),
        sorted(vec![
            sid.clone(),
            "a".into(),
            "b".into(),
            "c".into(),
            "d".into()
        ])
    );
    assert_eq!(names(io.sockets().rooms()), names(s.rooms()));

    // membership is real: a broadcast to a joined room reaches the socket
    io.to("c").emit("in-c", 1).unwrap();
    assert_eq!(c.expect_event("in-c").await.args, vec![json("1")]);

    s.leave("a");
    s.leave(["b", "c"]);
    s.leave("never-joined");
    assert_eq!(names(s.rooms()), sorted(vec![sid.clone(), "d".into()]));
    io.to("c").emit("in-c", 2).unwrap();
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn rooms_are_pruned_when_empty() {
    let io = SocketIo::new();
    let ns = io.sockets();
    let mut sockets = capture(&ns);
    let addr = serve(&io).await;
    let (_clients, s) = connect_many(addr, &mut sockets, 2).await;

    s[0].join(["shared", "solo"]);
    s[1].join("shared");
    let all = |extra: &[&str]| {
        let mut v = vec![s[0].id().to_string(), s[1].id().to_string()];
        v.extend(extra.iter().map(|x| x.to_string()));
        sorted(v)
    };
    assert_eq!(names(ns.rooms()), all(&["shared", "solo"]));

    s[0].leave("solo");
    assert_eq!(names(ns.rooms()), all(&["shared"]), "solo pruned");
    s[0].leave("shared");
    assert_eq!(
        names(ns.rooms()),
        all(&["shared"]),
        "shared still has a member"
    );
    s[1].leave("shared");
    assert_eq!(names(ns.rooms()), all(&[]), "shared pruned");
}

#[tokio::test]
async fn rooms_are_left_automatically_on_disconnect() {
    let io = SocketIo::new();
    let ns = io.sockets();
    let mut sockets = capture(&ns);
    let mut gone = watch_disconnects(&ns);
    let addr = serve(&io).await;
    let (mut clients, s) = connect_many(addr, &mut sockets, 2).await;

    s[0].join(["a", "b"]);
    s[1].join("b");
    clients[0].disconnect("/").await;
    assert_eq!(recv(&mut gone).await.0, s[0].id().as_str());

    assert!(s[0].rooms().is_empty());
    assert!(!s[0].connected());
    assert!(ns.socket(s[0].id()).is_none());
    assert_eq!(ns.len(), 1);
    assert_eq!(
        names(ns.rooms()),
        sorted(vec![s[1].id().to_string(), "b".into()])
    );
    // joining after the disconnection does nothing
    s[0].join("late");
    assert!(s[0].rooms().is_empty());
    assert!(!names(ns.rooms()).contains(&"late".to_owned()));
}

// --- disconnection ----------------------------------------------------------------------

#[tokio::test]
async fn disconnecting_sees_rooms_then_disconnect_runs() {
    let io = SocketIo::new();
    let ns = io.sockets();
    let log = Log::default();
    let l = log.clone();
    ns.on_connection(move |s| {
        s.join("room");
        let l1 = l.clone();
        s.on_disconnecting(move |s, reason| {
            let rooms = names(s.rooms()).join(",");
            let ns_has_room = s.namespace().rooms().iter().any(|r| r == "room");
            l1.push(format!(
                "disconnecting {reason} [{rooms}] ns_has_room={ns_has_room}"
            ));
            // the classic use: tell the rooms' other members
            let _ = s.to("room").emit("left", s.id().as_str());
        });
        let l2 = l.clone();
        s.on_disconnect(move |s, reason| {
            let rooms = names(s.rooms()).join(",");
            l2.push(format!("disconnect {reason} [{rooms}]"));
        });
    });
    let mut sockets = capture(&ns);
    let addr = serve(&io).await;
    let (mut clients, s) = connect_many(addr, &mut sockets, 2).await;
    let id0 = s[0].id().to_string();

    clients[0].disconnect("/").await;
    let entries = log.wait_len(2).await;
    let rooms = sorted(vec![id0.clone(), "room".to_owned()]).join(",");
    assert_eq!(
        entries,
        vec![
            format!("disconnecting client namespace disconnect [{rooms}] ns_has_room=true"),
            "disconnect client namespace disconnect []".to_owned(),
        ]
    );
    let left = clients[1].expect_event("left").await;
    assert_eq!(left.args, vec![Value::from(id0.as_str())]);
    clients[0].expect_nothing(QUIET).await;
}

#[tokio::test]
async fn reason_client_namespace_disconnect_keeps_other_namespaces() {
    let io = SocketIo::new();
    let mut gone = watch_disconnects(&io.sockets());
    io.of("/chat").on_connection(install_sync);
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;
    c.connect("/chat", None).await;

    c.disconnect("/").await;
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::ClientNamespaceDisconnect)
    );
    // the connection and the /chat socket live on
    sync(&mut c, "/chat").await;
    assert_eq!(io.sockets().len(), 0);
    assert_eq!(io.of("/chat").len(), 1);
}

#[tokio::test]
async fn reason_server_namespace_disconnect_sends_disconnect_packet() {
    let io = SocketIo::new();
    let ns = io.sockets();
    let mut gone = watch_disconnects(&ns);
    ns.on_connection(|s| {
        s.on("kick-me", |s, _| s.disconnect());
    });
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;

    c.emit("/", "kick-me", args![]).await;
    let r = c.next_packet(WAIT).await.expect("DISCONNECT packet");
    assert_eq!(r.text, "1");
    assert_eq!(
        recv(&mut gone).await,
        (sid.clone(), DisconnectReason::ServerNamespaceDisconnect)
    );
    // only the namespace was left: the connection can join again
    let again = c.connect("/", None).await;
    assert_ne!(again, sid);
    assert_eq!(ns.len(), 1);
}

#[tokio::test]
async fn reason_transport_close_when_client_drops_websocket() {
    let io = SocketIo::new();
    let mut gone = watch_disconnects(&io.sockets());
    let addr = serve(&io).await;
    // TCP dropped without a close frame
    let (c, sid) = RawClient::connect_main(addr).await;
    drop(c);
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::TransportClose)
    );
    // WebSocket close frame
    let (mut c, sid) = RawClient::connect_main(addr).await;
    c.close_ws().await;
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::TransportClose)
    );
    // Engine.IO close packet
    let (mut c, sid) = RawClient::connect_main(addr).await;
    c.send_engine("1").await;
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::TransportClose)
    );
}

#[tokio::test]
async fn reason_ping_timeout_when_client_stops_answering() {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100))
        .build();
    let mut gone = watch_disconnects(&io.sockets());
    let addr = serve(&io).await;
    let (mut silent, sid) = RawClient::connect_main(addr).await;
    let (_alive, alive_sid) = RawClient::connect_main(addr).await;
    silent.answer_pings(false);

    assert_eq!(recv(&mut gone).await, (sid, DisconnectReason::PingTimeout));
    assert!(silent.wait_closed(WAIT).await.is_some());
    // the client that answers stays connected
    assert_eq!(io.sockets().len(), 1);
    assert!(io.sockets().socket(&alive_sid).is_some());
    assert_no_recv(&mut gone).await;
}

#[tokio::test]
async fn reason_forced_server_close_for_packet_to_namespace_not_joined() {
    let io = SocketIo::new();
    io.of("/other");
    let mut gone = watch_disconnects(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;

    c.send_raw(r#"2/other,["hello"]"#).await;
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::ForcedServerClose)
    );
    assert!(c.wait_closed(WAIT).await.is_some(), "connection closed");
}

#[tokio::test]
async fn reason_forced_server_close_for_second_connect() {
    let io = SocketIo::new();
    let mut gone = watch_disconnects(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;

    c.send_raw("0").await;
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::ForcedServerClose)
    );
    assert!(c.wait_closed(WAIT).await.is_some(), "connection closed");
}

#[tokio::test]
async fn reason_forced_close_for_malformed_packet() {
    let io = SocketIo::new();
    let mut gone = watch_disconnects(&io.sockets());
    let addr = serve(&io).await;

    // invalid JSON
    let (mut c, sid) = RawClient::connect_main(addr).await;
    c.send_raw(r#"2["broken""#).await;
    assert_eq!(recv(&mut gone).await, (sid, DisconnectReason::ForcedClose));
    assert!(c.wait_closed(WAIT).await.is_some(), "connection closed");

    // a reserved event name sent by the client is malformed too (socket.io-parser)
    let (mut c, sid) = RawClient::connect_main(addr).await;
    c.send_raw(r#"2["disconnect"]"#).await;
    assert_eq!(recv(&mut gone).await, (sid, DisconnectReason::ForcedClose));
    assert!(c.wait_closed(WAIT).await.is_some(), "connection closed");
}

#[tokio::test]
async fn reason_server_shutting_down_on_io_close() {
    let io = SocketIo::new();
    let mut gone = watch_disconnects(&io.sockets());
    let mut chat_gone = watch_disconnects(&io.of("/chat"));
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;
    let chat_sid = c.connect("/chat", None).await;

    io.close().await;
    assert_eq!(
        recv(&mut gone).await,
        (sid, DisconnectReason::ServerShuttingDown)
    );
    assert_eq!(
        recv(&mut chat_gone).await,
        (chat_sid, DisconnectReason::ServerShuttingDown)
    );
    assert!(c.wait_closed(WAIT).await.is_some(), "connection closed");
    assert_no_recv(&mut gone).await;
}

// --- connection middlewares -------------------------------------------------------------

#[tokio::test]
async fn connection_middlewares_run_in_order_per_namespace() {
    let io = SocketIo::new();
    let log = Log::default();
    for name in ["io-1", "io-2", "io-3"] {
        let log = log.clone();
        io.middleware(move |s| {
            let log = log.clone();
            async move {
                // async work between steps must not reorder the chain
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
                log.push(format!("{name} connected={}", s.connected()));
                Ok(())
            }
        });
    }
    let chat = io.of("/chat");
    for name in ["chat-1", "chat-2"] {
        let log = log.clone();
        chat.middleware(move |_| {
            let log = log.clone();
            async move {
                tokio::task::yield_now().await;
                log.push(name);
                Ok(())
            }
        });
    }
    for ns in [io.sockets(), chat.clone()] {
        let log = log.clone();
        ns.on_connection(move |s| {
            log.push(format!("connection {}", s.namespace_name()));
            let _ = s.emit("welcome", s.namespace_name());
        });
    }
    let addr = serve(&io).await;
    let mut c = RawClient::open(addr).await;

    c.send_connect("/", None).await;
    // the CONNECT answer comes before anything emitted in the connection listener
    let first = c.next_packet(WAIT).await.expect("CONNECT answer");
    assert!(matches!(first.packet.data, PacketData::Connect(Some(_))));
    assert_eq!(c.expect_event("welcome").await.args, vec![json(r#""/""#)]);
    assert_eq!(
        log.get(),
        vec![
            "io-1 connected=false",
            "io-2 connected=false",
            "io-3 connected=false",
            "connection /"
        ]
    );

    c.connect("/chat", None).await;
    c.expect_event("welcome").await;
    assert_eq!(
        log.get()[4..],
        ["chat-1", "chat-2", "connection /chat"],
        "only /chat's middlewares run for /chat"
    );
}

#[derive(Serialize)]
struct RefusalDetails {
    code: u32,
    retry: bool,
}

#[tokio::test]
async fn middleware_refusal_sends_connect_error_and_stops_the_chain() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.middleware(move |s| {
        let l = l.clone();
        async move {
            l.push("check");
            match s.auth().get("token").and_then(Value::as_str) {
                Some("good") => Ok(()),
                _ => Err(
                    ConnectError::new("not authorized").with_data(RefusalDetails {
                        code: 4001,
                        retry: false,
                    }),
                ),
            }
        }
    });
    let l = log.clone();
    io.middleware(move |_| {
        let l = l.clone();
        async move {
            l.push("second");
            Ok(())
        }
    });
    let l = log.clone();
    io.on_connection(move |_| l.push("connection"));
    io.of("/chat")
        .middleware(|_| async { Err(ConnectError::from("chat is closed")) });
    let addr = serve(&io).await;
    let mut c = RawClient::open(addr).await;

    c.send_connect("/", Some(r#"{"token":"bad"}"#)).await;
    let r = c.next_packet(WAIT).await.expect("CONNECT_ERROR");
    assert_eq!(
        r.text,
        r#"4{"message":"not authorized","data":{"code":4001,"retry":false}}"#
    );
    assert_eq!(log.get(), vec!["check"], "the chain stopped at the refusal");
    assert_eq!(io.sockets().len(), 0);

    c.send_connect("/chat", None).await;
    let r = c.next_packet(WAIT).await.expect("CONNECT_ERROR");
    assert_eq!(r.text, r#"4/chat,{"message":"chat is closed"}"#);

    // a refusal leaves the connection open: the client may try again
    c.try_connect("/", Some(r#"{"token":"good"}"#))
        .await
        .expect("accepted with the right token");
    assert_eq!(log.get(), vec!["check", "check", "second", "connection"]);
}

#[tokio::test]
async fn packets_sent_during_async_middleware_are_handled_after_connection_in_order() {
    let io = SocketIo::new();
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    io.middleware(move |_| {
        let g = g.clone();
        async move {
            g.notified().await;
            Ok(())
        }
    });
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        l.push("connection");
        let l = l.clone();
        s.on("n", move |_, mut e| {
            l.push(format!("n {}", e.args()[0]));
            let _ = e.ack(args!["ok", e.args()[0].clone()]);
        });
    });
    let addr = serve(&io).await;
    let mut c = RawClient::open(addr).await;

    c.send_raw("0").await;
    c.send_raw(r#"2["n",1]"#).await;
    c.send_raw(r#"2["n",2]"#).await;
    c.send_raw(r#"27["n",3]"#).await;
    // the middleware holds the connection: nothing is answered or handled
    c.expect_nothing(QUIET).await;
    assert!(log.get().is_empty());

    gate.notify_one();
    c.connect_answer("/", WAIT).await.expect("connected");
    assert_eq!(
        c.next_ack("/", 7, WAIT).await.expect("ack 7"),
        vec![json(r#""ok""#), json("3")]
    );
    assert_eq!(log.get(), vec!["connection", "n 1", "n 2", "n 3"]);
}

// --- listeners --------------------------------------------------------------------------

#[tokio::test]
async fn several_listeners_of_one_event_all_run_in_order() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        install_sync(s);
        for i in 1..=3 {
            let l = l.clone();
            s.on("ev", move |_, mut e: Event| {
                l.push(format!("listener {i} {:?}", e.arg::<String>(0).unwrap()));
                // every listener may try to answer: one ACK goes out
                let _ = e.ack(format!("from {i}"));
            });
        }
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    let answer = c.emit_with_ack("/", "ev", "x", WAIT).await;
    assert_eq!(answer, vec![Value::from("from 1")]);
    sync(&mut c, "/").await;
    assert_eq!(
        log.get(),
        vec![
            r#"listener 1 "x""#,
            r#"listener 2 "x""#,
            r#"listener 3 "x""#
        ]
    );
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn once_listener_runs_once() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        install_sync(s);
        let l1 = l.clone();
        s.once("ev", move |_, e| l1.push(format!("once {}", e.args()[0])));
        let l2 = l.clone();
        s.on("ev", move |_, e| l2.push(format!("on {}", e.args()[0])));
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    for i in 1..=3 {
        c.emit("/", "ev", i).await;
    }
    sync(&mut c, "/").await;
    assert_eq!(log.get(), vec!["once 1", "on 1", "on 2", "on 3"]);
}

#[tokio::test]
async fn off_removes_a_listener() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        install_sync(s);
        let l1 = l.clone();
        let first = s.on("ev", move |_, _| l1.push("first"));
        let l2 = l.clone();
        s.on("ev", move |_, _| l2.push("second"));
        let l3 = l.clone();
        s.on("other", move |_, _| l3.push("other"));
        s.off("ev", first);
        // removing from inside a listener: affects the next events
        s.on("stop", |s, _| s.off_all("other"));
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    c.emit("/", "ev", args![]).await;
    c.emit("/", "other", args![]).await;
    c.emit("/", "stop", args![]).await;
    c.emit("/", "other", args![]).await;
    c.emit("/", "ev", args![]).await;
    sync(&mut c, "/").await;
    assert_eq!(log.get(), vec!["second", "other", "second"]);
}

#[tokio::test]
async fn on_any_sees_every_incoming_event() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        install_sync(s);
        let l1 = l.clone();
        let any = s.on_any(move |_, name, args| {
            let args: Vec<String> = args.iter().map(Value::to_json).collect();
            l1.push(format!("any {name} [{}]", args.join(",")));
        });
        let l2 = l.clone();
        s.on("known", move |_, _| l2.push("known"));
        s.on("stop-any", move |s, _| s.off_any(any));
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    c.emit("/", "known", args![1, "a"]).await;
    c.emit("/", "unknown", args![]).await;
    c.send_raw(r#"2[42,true]"#).await; // numeric event name
    sync(&mut c, "/").await;
    assert_eq!(
        log.get(),
        vec![
            r#"any known [1,"a"]"#,
            "known",
            "any unknown []",
            "any 42 [true]",
            "any sync []"
        ]
    );
    // off_any removes the catch-all listener
    c.emit("/", "stop-any", args![]).await;
    c.emit("/", "known", args![]).await;
    sync(&mut c, "/").await;
    assert_eq!(log.get()[5..], ["any stop-any []", "known"]);
}

#[tokio::test]
async fn on_any_outgoing_sees_emits_and_broadcasts() {
    let io = SocketIo::new();
    let log = Log::default();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut clients, s) = connect_many(addr, &mut sockets, 2).await;
    let l = log.clone();
    let listener = s[0].on_any_outgoing(move |_, name, args| {
        let args: Vec<String> = args.iter().map(Value::to_json).collect();
        l.push(format!("{name} [{}]", args.join(",")));
    });
    s[0].join("r");

    s[0].emit("direct", 1).unwrap();
    io.emit("everyone", 2).unwrap();
    s[1].broadcast().emit("from-b", 3).unwrap();
    io.to("r").emit("room", 4).unwrap();
    s[0].broadcast().emit("from-a", 5).unwrap(); // not to itself
    io.except("r").emit("not-r", 6).unwrap(); // not to it either
    let ack = tokio::spawn(s[0].emit_with_ack("ask", 7));

    for name in ["direct", "everyone", "from-b", "room"] {
        clients[0].expect_event(name).await;
    }
    let ask = clients[0].expect_event("ask").await;
    clients[0]
        .ack("/", ask.ack_id.expect("ack id"), "yes")
        .await;
    assert_eq!(ack.await.unwrap().unwrap(), vec![Value::from("yes")]);
    clients[0].expect_nothing(QUIET).await;
    assert_eq!(
        log.get(),
        vec![
            "direct [1]",
            "everyone [2]",
            "from-b [3]",
            "room [4]",
            "ask [7]"
        ]
    );
    // off_any_outgoing removes it
    s[0].off_any_outgoing(listener);
    s[0].emit("direct", 8).unwrap();
    io.emit("everyone", 9).unwrap();
    clients[0].expect_event("everyone").await;
    assert_eq!(log.get().len(), 5);
}

#[tokio::test]
async fn packet_middleware_can_change_args_or_refuse() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        install_sync(s);
        let l0 = l.clone();
        s.packet_middleware(move |_, e| {
            l0.push(format!("mw1 {}", e.name));
            match e.name.as_str() {
                "forbidden" => Err("forbidden event".to_owned()),
                "double" => {
                    for a in e.args_mut().iter_mut() {
                        *a = Value::from(a.as_i64().unwrap_or(0) * 2);
                    }
                    Ok(())
                }
                _ => Ok(()),
            }
        });
        let l1 = l.clone();
        s.packet_middleware(move |_, e| {
            l1.push(format!(
                "mw2 {} {}",
                e.name,
                Value::Array(e.args().to_vec())
            ));
            Ok(())
        });
        let l2 = l.clone();
        s.on_error(move |_, err| l2.push(format!("error {err}")));
        let l3 = l.clone();
        s.on_any(move |_, name, _| l3.push(format!("any {name}")));
        for name in ["forbidden", "double"] {
            let l4 = l.clone();
            s.on(name, move |_, mut e| {
                l4.push(format!(
                    "listener {name} {}",
                    Value::Array(e.args().to_vec())
                ));
                let _ = e.ack("handled");
            });
        }
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    let refused = c.emit_ack_id("/", "forbidden", args![]).await;
    let doubled = c.emit_with_ack("/", "double", args![1, 2], WAIT).await;
    assert_eq!(doubled, vec![Value::from("handled")]);
    assert!(
        c.next_ack("/", refused, QUIET).await.is_none(),
        "a refused event is not acknowledged"
    );
    let log = log.get();
    assert_eq!(
        log[..6],
        [
            "mw1 forbidden",
            "error forbidden event",
            "mw1 double",
            "mw2 double [2,4]",
            "any double",
            "listener double [2,4]",
        ]
    );
}

// --- acknowledgements -------------------------------------------------------------------

#[tokio::test]
async fn client_ack_answered_by_event_ack() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        install_sync(s);
        s.on("sum", |_, mut e| {
            let (a, b): (i64, i64) = e.args_as().unwrap();
            let _ = e.ack(a + b);
        });
        let l = l.clone();
        s.on("no-ack", move |_, mut e| {
            l.push(format!("wants_ack={}", e.wants_ack()));
            e.ack("ignored").unwrap();
        });
        s.on("later", |_, mut e| {
            let ack = e.take_ack().expect("an ack was asked for");
            assert!(!e.wants_ack(), "taken");
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                ack.send("later").unwrap();
                ack.send("twice").unwrap(); // ignored
            });
        });
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    let id = c.emit_ack_id("/", "sum", args![2, 3]).await;
    let r = c.next_packet(WAIT).await.expect("ACK");
    assert_eq!(r.text, format!("3{id}[5]"));

    c.emit("/", "no-ack", args![]).await;
    sync(&mut c, "/").await;
    assert_eq!(log.get(), vec!["wants_ack=false"]);

    let later = c.emit_with_ack("/", "later", args![], WAIT).await;
    assert_eq!(later, vec![Value::from("later")]);
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn server_emit_with_ack_answered_by_client() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;

    let pending = tokio::spawn(s.emit_with_ack("question", args!["life", 6]));
    let ev = c.expect_event("question").await;
    assert_eq!(ev.args, vec![Value::from("life"), json("6")]);
    let id = ev.ack_id.expect("the server asked for an ack");
    c.ack("/", id, args![42, "ok"]).await;
    assert_eq!(
        pending.await.unwrap().unwrap(),
        vec![json("42"), Value::from("ok")]
    );

    // with a timeout, answered in time
    let pending = tokio::spawn(s.timeout(WAIT).emit_with_ack("again", args![]));
    let ev = c.expect_event("again").await;
    c.ack("/", ev.ack_id.unwrap(), args![]).await;
    assert_eq!(pending.await.unwrap().unwrap(), Vec::<Value>::new());
}

#[tokio::test]
async fn server_emit_with_ack_times_out() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    io.on_connection(install_sync);
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;

    let pending = tokio::spawn(
        s.timeout(Duration::from_millis(100))
            .emit_with_ack("unanswered", args![]),
    );
    let ev = c.expect_event("unanswered").await;
    assert_eq!(pending.await.unwrap(), Err(AckError::Timeout));
    // a late answer is ignored; the connection is fine
    c.ack("/", ev.ack_id.unwrap(), "late").await;
    sync(&mut c, "/").await;
    assert!(s.connected());
}

#[tokio::test]
async fn server_ack_pending_when_socket_disconnects_fails() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;

    let no_timeout = tokio::spawn(s.emit_with_ack("q1", args![]));
    let with_timeout = tokio::spawn(s.timeout(WAIT).emit_with_ack("q2", args![]));
    c.expect_event("q1").await;
    c.expect_event("q2").await;
    c.disconnect("/").await;
    assert_eq!(no_timeout.await.unwrap(), Err(AckError::Disconnected));
    assert_eq!(with_timeout.await.unwrap(), Err(AckError::Disconnected));
    // and emitting on a disconnected socket fails at once
    assert_eq!(
        s.emit_with_ack("q3", args![]).await,
        Err(AckError::Disconnected)
    );
    assert_eq!(s.emit("q4", args![]), Err(EmitError::Disconnected));
}

// --- broadcasts -------------------------------------------------------------------------

/// Three clients of `/` with their server sockets.
async fn three(io: &SocketIo) -> (Vec<RawClient>, Vec<Socket>) {
    let mut sockets = capture(&io.sockets());
    let addr = serve(io).await;
    connect_many(addr, &mut sockets, 3).await
}

#[tokio::test]
async fn io_emit_reaches_every_socket() {
    let io = SocketIo::new();
    let (mut c, _s) = three(&io).await;
    io.emit("news", args!["hello", 1]).unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    expect_once(&mut [a, b, d], "news", &[Value::from("hello"), json("1")]).await;

    // binary arguments: every recipient gets the attachments
    io.emit("blob", Bytes::from_static(&[1, 2, 3])).unwrap();
    expect_once(
        &mut [a, b, d],
        "blob",
        &[Value::Binary(Bytes::from_static(&[1, 2, 3]))],
    )
    .await;
}

#[tokio::test]
async fn socket_broadcast_reaches_all_but_sender() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].broadcast().emit("b", 1).unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    expect_once(&mut [b, d], "b", &[json("1")]).await;
    a.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn socket_to_room_excludes_the_sender() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].join("r");
    s[1].join("r");
    s[0].to("r").emit("r", 1).unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    expect_once(&mut [b], "r", &[json("1")]).await;
    a.expect_nothing(QUIET).await;
    d.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn io_to_room_includes_every_member() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].join("r");
    s[1].join("r");
    io.to("r").emit("r", 1).unwrap();
    io.to("nobody-here").emit("none", 1).unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    expect_once(&mut [a, b], "r", &[json("1")]).await;
    d.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn except_leaves_out_rooms() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].join(["r", "muted"]);
    s[1].join("r");
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };

    io.except("muted").emit("e1", 1).unwrap();
    expect_once(&mut [b, d], "e1", &[json("1")]).await;
    a.expect_nothing(QUIET).await;

    io.to("r").except("muted").emit("e2", 2).unwrap();
    expect_once(&mut [b], "e2", &[json("2")]).await;
    a.expect_nothing(QUIET).await;
    d.expect_nothing(QUIET).await;

    // a socket id leaves out that socket; socket.except adds to the sender
    s[1].except(s[2].id()).emit("e3", 3).unwrap();
    expect_once(&mut [a], "e3", &[json("3")]).await;
    b.expect_nothing(QUIET).await;
    d.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn outgoing_listeners_may_change_rooms_during_a_room_broadcast() {
    // The broadcast walks the room's members in place; a listener that joins or leaves
    // rooms while it runs must neither block nor be skipped.
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    for sock in &s {
        sock.join("r");
        sock.on_any_outgoing(|sock, name, _| {
            if name == "r" {
                sock.leave("r");
                sock.join("after");
            }
        });
    }
    io.to("r").emit("r", 1).unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    expect_once(&mut [a, b, d], "r", &[json("1")]).await;
    io.to("r").emit("r", 2).unwrap();
    io.to("after").emit("after", 3).unwrap();
    expect_once(&mut [a, b, d], "after", &[json("3")]).await;
}

#[tokio::test]
async fn a_socket_joined_by_a_middleware_is_reached_once_connected() {
    let io = SocketIo::new();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let release = Arc::new(Mutex::new(Some(release_rx)));
    let (joined_tx, mut joined_rx) = mpsc::unbounded_channel::<()>();
    io.middleware(move |s| {
        let release = release.clone();
        let joined = joined_tx.clone();
        async move {
            s.join("lobby");
            let _ = joined.send(());
            let wait = release.lock().unwrap().take();
            if let Some(wait) = wait {
                let _ = wait.await;
            }
            Ok(())
        }
    });
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let mut client = RawClient::open(addr).await;
    client.send_connect("/", None).await;
    recv(&mut joined_rx).await;
    // Still in the middleware: in the room already, but not connected, so not reached.
    io.to("lobby").emit("early", 1).unwrap();
    io.emit("early-all", 1).unwrap();
    release_tx.send(()).unwrap();
    let sid = client.connect_answer("/", WAIT).await.expect("connected");
    let socket = recv(&mut sockets).await;
    assert_eq!(socket.id().as_str(), sid);
    assert!(socket.rooms().contains(&Room::from("lobby")));
    io.to("lobby").emit("late", 2).unwrap();
    let ev = client.expect_event("late").await;
    assert_eq!(ev.args, [json("2")]);
    client.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn io_to_socket_id_targets_one_client() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    io.to(s[1].id()).emit("private", "psst").unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    expect_once(&mut [b], "private", &[Value::from("psst")]).await;
    a.expect_nothing(QUIET).await;
    d.expect_nothing(QUIET).await;

    // a socket can message another one by id (without getting it itself)
    s[0].to(s[2].id().as_str()).emit("dm", 1).unwrap();
    expect_once(&mut [d], "dm", &[json("1")]).await;
    a.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn each_recipient_gets_one_copy_when_in_several_targeted_rooms() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].join(["r1", "r2", "r3"]);
    s[1].join(["r2", "r3"]);
    s[2].join("r3");
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };

    io.to(["r1", "r2", "r3"]).emit("m1", 1).unwrap();
    expect_once(&mut [a, b, d], "m1", &[json("1")]).await;

    io.to("r1").to("r2").to(s[0].id()).emit("m2", 2).unwrap();
    expect_once(&mut [a, b], "m2", &[json("2")]).await;
    d.expect_nothing(QUIET).await;

    s[2].to(["r1", "r2", "r3"]).emit("m3", 3).unwrap();
    expect_once(&mut [a, b], "m3", &[json("3")]).await;
    d.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn volatile_emits_are_delivered_over_websocket() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    io.volatile().emit("v1", 1).unwrap();
    s[0].volatile().emit("v2", 2).unwrap();
    s[0].broadcast().volatile().emit("v3", 3).unwrap();
    let [a, b, d] = &mut c[..] else {
        unreachable!()
    };
    for x in [&mut *a, &mut *b, &mut *d] {
        assert_eq!(x.expect_event("v1").await.args, vec![json("1")]);
    }
    assert_eq!(a.expect_event("v2").await.args, vec![json("2")]);
    for x in [&mut *b, &mut *d] {
        assert_eq!(x.expect_event("v3").await.args, vec![json("3")]);
    }
    for x in [a, b, d] {
        x.expect_nothing(QUIET).await;
    }
}

#[tokio::test]
async fn broadcast_with_ack_collects_one_answer_per_socket() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].join("r");
    s[1].join("r");

    let pending = tokio::spawn(io.timeout(WAIT).emit_with_ack("poll", "?"));
    for (i, x) in c.iter_mut().enumerate() {
        let ev = x.expect_event("poll").await;
        assert_eq!(ev.args, vec![Value::from("?")]);
        x.ack("/", ev.ack_id.expect("ack id"), args![i, "extra"])
            .await;
    }
    let mut answers: Vec<i64> = pending
        .await
        .unwrap()
        .expect("every socket answered")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    answers.sort();
    assert_eq!(answers, vec![0, 1, 2]);

    // to a room, without timeout
    let pending = tokio::spawn(io.to("r").emit_with_ack("room-poll", args![]));
    for (i, x) in c.iter_mut().take(2).enumerate() {
        let ev = x.expect_event("room-poll").await;
        x.ack("/", ev.ack_id.unwrap(), i * 10).await;
    }
    let mut answers: Vec<i64> = pending
        .await
        .unwrap()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    answers.sort();
    assert_eq!(answers, vec![0, 10]);
    c[2].expect_nothing(QUIET).await;

    // nobody selected: no answer to wait for
    let none = io.to("nobody").timeout(WAIT).emit_with_ack("x", args![]);
    let none = tokio::time::timeout(QUIET, none)
        .await
        .expect("resolves at once");
    assert_eq!(none, Ok(vec![]));
}

#[tokio::test]
async fn broadcast_with_ack_times_out_with_partial_responses() {
    let io = SocketIo::new();
    let (mut c, _s) = three(&io).await;

    let pending = tokio::spawn(
        io.timeout(Duration::from_millis(300))
            .emit_with_ack("poll", args![]),
    );
    for (i, x) in c.iter_mut().enumerate() {
        let ev = x.expect_event("poll").await;
        if i < 2 {
            x.ack("/", ev.ack_id.unwrap(), format!("answer {i}")).await;
        }
    }
    let err = pending
        .await
        .unwrap()
        .expect_err("one socket never answered");
    let mut got: Vec<String> = err
        .responses()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, vec!["answer 0", "answer 1"]);
}

// --- selecting sockets ------------------------------------------------------------------

#[tokio::test]
async fn fetch_sockets_returns_the_selected_sockets() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;
    s[0].join("r");
    s[1].join("r");
    s[0].set_data(json(r#"{"user":"ann"}"#)).unwrap();

    let ids = |v: Vec<RemoteSocket>| sorted(v.iter().map(|s| s.id().to_string()).collect());
    let all = sorted(s.iter().map(|s| s.id().to_string()).collect());
    assert_eq!(ids(io.fetch_sockets().await.unwrap()), all);
    assert_eq!(
        ids(io.to("r").fetch_sockets().await.unwrap()),
        sorted(vec![s[0].id().to_string(), s[1].id().to_string()])
    );
    assert_eq!(
        ids(io.except("r").fetch_sockets().await.unwrap()),
        vec![s[2].id().to_string()]
    );
    assert!(io.to("nobody").fetch_sockets().await.unwrap().is_empty());
    assert!(io
        .of("/chat")
        .all()
        .fetch_sockets()
        .await
        .unwrap()
        .is_empty());

    // a fetched socket is the socket: data, rooms, emit
    let fetched = io.to(s[0].id()).fetch_sockets().await.unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].id(), s[0].id());
    assert_eq!(fetched[0].data_value(), &json(r#"{"user":"ann"}"#));
    assert!(names(fetched[0].rooms().to_vec()).contains(&"r".to_owned()));
    fetched[0].emit("hi", args![]).unwrap();
    c[0].expect_event("hi").await;
}

#[tokio::test]
async fn sockets_join_and_sockets_leave() {
    let io = SocketIo::new();
    let (mut c, s) = three(&io).await;

    io.to(s[0].id()).sockets_join(["x", "y"]).unwrap();
    assert_eq!(
        names(s[0].rooms()),
        sorted(vec![s[0].id().to_string(), "x".into(), "y".into()])
    );
    io.sockets_join("all").unwrap();
    for so in &s {
        assert!(names(so.rooms()).contains(&"all".to_owned()));
    }
    io.to("all").emit("to-all", 1).unwrap();
    {
        let [a, b, d] = &mut c[..] else {
            unreachable!()
        };
        expect_once(&mut [a, b, d], "to-all", &[json("1")]).await;
    }

    io.to("x").sockets_leave("all").unwrap();
    io.to("all").emit("to-all", 2).unwrap();
    {
        let [a, b, d] = &mut c[..] else {
            unreachable!()
        };
        expect_once(&mut [b, d], "to-all", &[json("2")]).await;
        a.expect_nothing(QUIET).await;
    }

    io.sockets_leave(["all", "x", "y"]).unwrap();
    let rooms = names(io.sockets().rooms());
    assert_eq!(
        rooms,
        sorted(s.iter().map(|s| s.id().to_string()).collect())
    );
}

#[tokio::test]
async fn disconnect_sockets_by_selection() {
    let io = SocketIo::new();
    let mut gone = watch_disconnects(&io.sockets());
    let (mut c, s) = three(&io).await;
    s[0].join("r");
    s[1].join("r");

    io.to("r").disconnect_sockets().unwrap();
    for x in c.iter_mut().take(2) {
        assert!(x.next_disconnect("/", WAIT).await, "DISCONNECT packet");
    }
    let mut reasons = vec![recv(&mut gone).await, recv(&mut gone).await];
    reasons.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![
        (
            s[0].id().to_string(),
            DisconnectReason::ServerNamespaceDisconnect,
        ),
        (
            s[1].id().to_string(),
            DisconnectReason::ServerNamespaceDisconnect,
        ),
    ];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(reasons, expected);
    assert_eq!(io.sockets().len(), 1);
    c[2].expect_nothing(QUIET).await;
    // namespace disconnection only: the connection may join again
    c[0].connect("/", None).await;

    // close = true: the connections close too
    io.sockets().all().disconnect_and_close_sockets().unwrap();
    for i in [0, 2] {
        let seen = c[i].wait_closed(WAIT).await.expect("connection closed");
        assert!(
            seen.iter().any(|r| r.packet.data == PacketData::Disconnect),
            "DISCONNECT before the close"
        );
    }
    assert_eq!(io.sockets().len(), 0);
    // c[1] had no socket left in `/`: its connection is not selected
    c[1].expect_nothing(QUIET).await;
    assert!(!c[1].is_closed());
}

// --- namespaces -------------------------------------------------------------------------

#[tokio::test]
async fn dynamic_namespaces_via_regex_are_separate() {
    let io = SocketIo::new();
    let parent = io.of_regex(r"^/dyn-[a-z]+$").unwrap();
    let log = Log::default();
    let l = log.clone();
    parent.middleware(move |s| {
        let l = l.clone();
        async move {
            l.push(format!("mw {}", s.namespace_name()));
            Ok(())
        }
    });
    parent.on_connection(|s| {
        s.on("shout", |s, e| {
            let _ = s.namespace().emit("heard", e.args()[0].clone());
        });
    });
    let addr = serve(&io).await;
    let mut a = RawClient::open(addr).await;
    let mut b = RawClient::open(addr).await;
    let mut a2 = RawClient::open(addr).await;
    a.connect("/dyn-a", None).await;
    b.connect("/dyn-b", None).await;
    a2.connect("/dyn-a", None).await;

    assert_eq!(
        sorted(log.get()),
        vec!["mw /dyn-a", "mw /dyn-a", "mw /dyn-b"]
    );
    assert_eq!(io.of("/dyn-a").len(), 2);
    assert_eq!(io.of("/dyn-b").len(), 1);

    a.emit("/dyn-a", "shout", "hey").await;
    for x in [&mut a, &mut a2] {
        let ev = x
            .next_event_in("/dyn-a", "heard", WAIT)
            .await
            .expect("heard");
        assert_eq!(ev.args, vec![Value::from("hey")]);
    }
    b.expect_nothing(QUIET).await;

    io.of("/dyn-b").emit("only-b", args![]).unwrap();
    b.next_event_in("/dyn-b", "only-b", WAIT)
        .await
        .expect("only-b");
    a.expect_nothing(QUIET).await;

    // a name the pattern refuses is an unknown namespace
    let err = a.try_connect("/dyn-1", None).await.unwrap_err();
    assert_eq!(err, json(r#"{"message":"Invalid namespace"}"#));
}

#[tokio::test]
async fn unknown_namespace_is_refused() {
    let io = SocketIo::new();
    let addr = serve(&io).await;
    let mut c = RawClient::open(addr).await;

    c.send_connect("/x", None).await;
    let r = c.next_packet(WAIT).await.expect("CONNECT_ERROR");
    assert_eq!(r.text, r#"4/x,{"message":"Invalid namespace"}"#);
    assert!(io.namespaces().iter().all(|n| n.name() != "/x"));
    // the connection stays usable
    c.connect("/", None).await;
}

// --- state ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UserData {
    name: String,
    score: u32,
}

struct Session(&'static str);

#[derive(Default)]
struct Counter(AtomicUsize);

#[tokio::test]
async fn typed_data_extensions_and_server_state() {
    let io = SocketIo::new();
    io.set_state(Counter::default());
    io.middleware(|s| async move {
        let name: String = s
            .auth()
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("anon")
            .to_owned();
        s.set_data(UserData { name, score: 1 }).unwrap();
        s.insert_extension(Session("from middleware"));
        Ok(())
    });
    io.on_connection(|s| {
        s.on("whoami", |s, mut e| {
            let mut data: UserData = s.data().unwrap();
            data.score += 1;
            s.set_data(&data).unwrap();
            let session = s.extension::<Session>().map(|x| x.0).unwrap_or("none");
            let missing = s.extension::<u64>().is_none();
            let io = s.server().unwrap();
            let n = io
                .state::<Counter>()
                .unwrap()
                .0
                .fetch_add(1, Ordering::SeqCst)
                + 1;
            let _ = e.ack(args![data, session, missing, n]);
        });
    });
    let addr = serve(&io).await;
    let mut c = RawClient::open(addr).await;
    c.connect("/", Some(r#"{"name":"ann"}"#)).await;

    let a = c.emit_with_ack("/", "whoami", args![], WAIT).await;
    assert_eq!(
        a,
        vec![
            json(r#"{"name":"ann","score":2}"#),
            Value::from("from middleware"),
            Value::Bool(true),
            json("1")
        ]
    );
    let a = c.emit_with_ack("/", "whoami", args![], WAIT).await;
    assert_eq!(a[0], json(r#"{"name":"ann","score":3}"#));
    assert_eq!(a[3], json("2"));

    let s = &io.fetch_sockets().await.unwrap()[0];
    assert_eq!(
        s.data::<UserData>().unwrap(),
        UserData {
            name: "ann".into(),
            score: 3
        }
    );
    assert!(s.data::<u32>().is_err());
    assert_eq!(io.state::<Counter>().unwrap().0.load(Ordering::SeqCst), 2);
    assert!(io.state::<String>().is_none());
}

// --- typed arguments --------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Message {
    room: String,
    text: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[tokio::test]
async fn typed_args_via_serde() {
    let io = SocketIo::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s| {
        let tx = tx.clone();
        s.on("msg", move |_, e| {
            let one: Message = e.arg(0).unwrap();
            let pair: (Message, u32) = e.args_as().unwrap();
            let count: u32 = e.arg(1).unwrap();
            let missing: Option<String> = e.arg(5).unwrap();
            let wrong = e.arg::<u32>(0).is_err();
            let _ = tx.send((one, pair, count, missing, wrong));
        });
        s.on("reply", |s, _| {
            let m = Message {
                room: "r".into(),
                text: "t".into(),
                tags: vec!["x".into()],
            };
            s.emit("typed", args![m, 7u8, Option::<u8>::None]).unwrap();
        });
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    c.send_raw(r#"2["msg",{"room":"lobby","text":"hi"},3]"#)
        .await;
    let (one, pair, count, missing, wrong) = recv(&mut rx).await;
    let expected = Message {
        room: "lobby".into(),
        text: "hi".into(),
        tags: vec![],
    };
    assert_eq!(one, expected);
    assert_eq!(pair, (expected, 3));
    assert_eq!(count, 3);
    assert_eq!(missing, None);
    assert!(wrong);

    c.emit("/", "reply", args![]).await;
    let r = c
        .next_matching(WAIT, |r| r.packet.event_name() == Some("typed"))
        .await
        .expect("typed");
    assert_eq!(
        r.text,
        r#"2["typed",{"room":"r","text":"t","tags":["x"]},7,null]"#
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Bytes,
}

#[tokio::test]
async fn bytes_arguments_travel_as_binary_attachments() {
    let io = SocketIo::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s| {
        let tx = tx.clone();
        s.on("upload", move |_, mut e| {
            let up: Upload = e.arg(0).unwrap();
            let raw: Bytes = e.arg(1).unwrap();
            let _ = tx.send((up.clone(), raw.clone()));
            let _ = e.ack(args![
                up.data.len(),
                Bytes::from(raw.iter().rev().copied().collect::<Vec<u8>>())
            ]);
        });
        s.on("download", |s, _| {
            let file = Upload {
                name: "a.bin".into(),
                data: Bytes::from_static(&[0, 1, 2, 255]),
            };
            s.emit("file", args![file, Bytes::from_static(b"xyz")])
                .unwrap();
        });
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    // client -> server: a BINARY_EVENT with two attachments
    let upload = Value::object([
        ("name", Value::from("u.bin")),
        ("data", Value::Binary(Bytes::from_static(&[9, 8, 7]))),
    ]);
    let id = c
        .emit_ack_id(
            "/",
            "upload",
            args![upload, Value::Binary(Bytes::from_static(&[1, 2]))],
        )
        .await;
    let (up, raw) = recv(&mut rx).await;
    assert_eq!(
        up,
        Upload {
            name: "u.bin".into(),
            data: Bytes::from_static(&[9, 8, 7])
        }
    );
    assert_eq!(raw, Bytes::from_static(&[1, 2]));
    let ack = c
        .next_matching(WAIT, |r| r.packet.id == Some(id))
        .await
        .expect("ack");
    assert_eq!(
        ack.text,
        format!(r#"61-{id}[3,{{"_placeholder":true,"num":0}}]"#)
    );
    assert_eq!(
        ack.packet.data,
        PacketData::Ack {
            args: vec![json("3"), Value::Binary(Bytes::from_static(&[2, 1]))]
        }
    );

    // server -> client: the struct's Bytes field and a Bytes argument as attachments
    c.emit("/", "download", args![]).await;
    let r = c
        .next_matching(WAIT, |r| r.packet.event_name() == Some("file"))
        .await
        .expect("file");
    assert_eq!(
        r.text,
        r#"52-["file",{"name":"a.bin","data":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]"#
    );
    let args = r.packet.args().unwrap();
    assert_eq!(
        sockio::server::from_value::<Upload>(args[0].clone()).unwrap(),
        Upload {
            name: "a.bin".into(),
            data: Bytes::from_static(&[0, 1, 2, 255])
        }
    );
    assert_eq!(args[1], Value::Binary(Bytes::from_static(b"xyz")));

    // a binary answer to the server's acknowledgement
    let socket = io.sockets().sockets().pop().expect("the socket");
    let pending = tokio::spawn(socket.timeout(WAIT).emit_with_ack("give", args![]));
    let ev = c.expect_event("give").await;
    c.ack(
        "/",
        ev.ack_id.unwrap(),
        args!["here", Bytes::from_static(&[4, 2])],
    )
    .await;
    let answer = pending.await.unwrap().unwrap();
    assert_eq!(answer[0], Value::from("here"));
    assert_eq!(
        sockio::server::from_value::<Bytes>(answer[1].clone()).unwrap(),
        Bytes::from_static(&[4, 2])
    );
}

// --- misc -------------------------------------------------------------------------------

#[tokio::test]
async fn reserved_event_names_are_refused_by_emit() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;
    let outgoing = Log::default();
    let l = outgoing.clone();
    s.on_any_outgoing(move |_, name, _| l.push(name));

    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        let reserved = EmitError::ReservedEvent(name.to_owned());
        assert_eq!(s.emit(name, args![]), Err(reserved.clone()));
        assert_eq!(io.emit(name, args![]), Err(reserved.clone()));
        assert_eq!(s.broadcast().emit(name, 1), Err(reserved.clone()));
        assert_eq!(io.to("r").emit(name, 1), Err(reserved.clone()));
        assert_eq!(
            s.emit_with_ack(name, args![]).await,
            Err(AckError::Emit(reserved.clone()))
        );
    }
    // not reserved: different case, "connection", "error"
    s.emit("Disconnect", args![]).unwrap();
    s.emit("connection", args![]).unwrap();
    c.expect_event("Disconnect").await;
    c.expect_event("connection").await;
    c.expect_nothing(QUIET).await;
    assert_eq!(outgoing.get(), vec!["Disconnect", "connection"]);
}

#[tokio::test]
async fn connect_timeout_closes_a_connection_that_never_joins() {
    let io = SocketIo::builder()
        .connect_timeout(Duration::from_millis(200))
        .build();
    let addr = serve(&io).await;
    let mut idle = RawClient::open(addr).await;
    let (mut joined, _) = RawClient::connect_main(addr).await;

    let seen = idle
        .wait_closed(WAIT)
        .await
        .expect("the idle connection is closed");
    assert!(seen.is_empty(), "no Socket.IO packet before the close");
    // a connection that joined a namespace in time is kept
    joined.expect_nothing(Duration::from_millis(300)).await;
    assert!(!joined.is_closed());
    assert_eq!(io.sockets().len(), 1);

    // Later connections are watched too (after the first ones were all checked), and a
    // connection that joined once is not closed for having left every namespace since.
    let mut late_idle = RawClient::open(addr).await;
    let (mut left, _) = RawClient::connect_main(addr).await;
    left.disconnect("/").await;
    late_idle
        .wait_closed(WAIT)
        .await
        .expect("the later idle connection is closed");
    left.expect_nothing(Duration::from_millis(300)).await;
    assert!(!left.is_closed());
}

// --- further semantics ------------------------------------------------------------------

#[tokio::test]
async fn rooms_are_per_namespace() {
    let io = SocketIo::new();
    let mut main = capture(&io.sockets());
    let mut chat = capture(&io.of("/chat"));
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    c.connect("/chat", None).await;
    let s_main = recv(&mut main).await;
    let s_chat = recv(&mut chat).await;
    assert_ne!(s_main.id(), s_chat.id(), "one id per namespace");

    s_chat.join("r");
    assert!(!names(io.sockets().rooms()).contains(&"r".to_owned()));
    io.to("r").emit("main-r", args![]).unwrap();
    io.of("/chat").to("r").emit("chat-r", args![]).unwrap();
    let ev = c.expect_event("chat-r").await;
    assert_eq!(ev.nsp, "/chat");
    c.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn socket_disconnect_with_close_disconnects_every_namespace_then_closes() {
    let io = SocketIo::new();
    let mut main_gone = watch_disconnects(&io.sockets());
    let mut chat_gone = watch_disconnects(&io.of("/chat"));
    io.of("/chat").on_connection(|s| {
        s.on("close-all", |s, _| s.disconnect_and_close());
    });
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;
    let chat_sid = c.connect("/chat", None).await;

    c.emit("/chat", "close-all", args![]).await;
    let seen = c.wait_closed(WAIT).await.expect("connection closed");
    let mut disconnects: Vec<&str> = seen
        .iter()
        .filter(|r| r.packet.data == PacketData::Disconnect)
        .map(|r| r.packet.nsp.as_str())
        .collect();
    disconnects.sort();
    assert_eq!(disconnects, vec!["/", "/chat"]);
    assert_eq!(
        recv(&mut main_gone).await,
        (sid, DisconnectReason::ServerNamespaceDisconnect)
    );
    assert_eq!(
        recv(&mut chat_gone).await,
        (chat_sid, DisconnectReason::ServerNamespaceDisconnect)
    );
}

#[tokio::test]
async fn client_gone_during_async_middleware_never_connects() {
    let io = SocketIo::new();
    let gate = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let (g, e) = (gate.clone(), entered.clone());
    io.middleware(move |_| {
        let (g, e) = (g.clone(), e.clone());
        async move {
            e.notify_one();
            g.notified().await;
            Ok(())
        }
    });
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |_| l.push("connection"));
    let addr = serve(&io).await;
    let mut c = RawClient::open(addr).await;
    let sid = c.engine_sid();

    c.send_raw("0").await;
    tokio::time::timeout(WAIT, entered.notified())
        .await
        .expect("middleware running");
    drop(c);
    // wait until the server saw the connection go
    let end = tokio::time::Instant::now() + WAIT;
    while io
        .engine()
        .sockets()
        .iter()
        .any(|s| s.sid().to_string() == sid)
    {
        assert!(tokio::time::Instant::now() < end, "session still open");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.notify_one();
    // a later connection goes through the same middleware: once it connected, the
    // first one's outcome is settled too
    let (_c2, _) = {
        let mut c2 = RawClient::open(addr).await;
        c2.send_raw("0").await;
        gate.notify_one();
        let sid = c2.connect_answer("/", WAIT).await.expect("connected");
        (c2, sid)
    };
    assert_eq!(
        log.get(),
        vec!["connection"],
        "only the live client connected"
    );
    assert_eq!(io.sockets().len(), 1);
}

#[tokio::test]
async fn auth_defaults_to_empty_object_and_is_kept() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    let mut chat = capture(&io.of("/chat"));
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    c.connect("/chat", Some(r#"{"token":"abc","n":1}"#)).await;
    let s = recv(&mut sockets).await;
    assert_eq!(s.auth(), &json("{}"));
    assert_eq!(s.data_value(), json("{}"));
    let s = recv(&mut chat).await;
    assert_eq!(s.auth(), &json(r#"{"token":"abc","n":1}"#));
    #[derive(Deserialize)]
    struct Auth {
        token: String,
    }
    assert_eq!(s.auth_as::<Auth>().unwrap().token, "abc");
}

#[tokio::test]
async fn rooms_joined_in_a_connection_middleware_are_kept() {
    let io = SocketIo::new();
    io.middleware(|s| async move {
        s.join("from-middleware");
        Ok(())
    });
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;
    assert!(
        names(s.rooms()).contains(&"from-middleware".to_owned()),
        "rooms: {:?}",
        s.rooms()
    );
    io.to("from-middleware").emit("hi", args![]).unwrap();
    c.expect_event("hi").await;
}

#[tokio::test]
async fn socket_is_still_connected_while_disconnecting() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        let l1 = l.clone();
        s.on_disconnecting(move |s, _| {
            l1.push(format!(
                "disconnecting connected={} emit={:?}",
                s.connected(),
                s.emit("bye", args![])
            ))
        });
        let l2 = l.clone();
        s.on_disconnect(move |s, _| l2.push(format!("disconnect connected={}", s.connected())));
        s.on("kick-me", |s, _| s.disconnect());
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    c.emit("/", "kick-me", args![]).await;
    assert_eq!(
        log.wait_len(2).await,
        vec![
            "disconnecting connected=true emit=Ok(())",
            "disconnect connected=false"
        ]
    );
}

#[tokio::test]
async fn dynamic_parent_namespace_broadcast_reaches_every_child() {
    let io = SocketIo::new();
    let parent = io.of_regex(r"^/dyn-[a-z]+$").unwrap();
    let mut children = capture(&parent);
    let addr = serve(&io).await;
    let mut a = RawClient::open(addr).await;
    let mut b = RawClient::open(addr).await;
    a.connect("/dyn-a", None).await;
    b.connect("/dyn-b", None).await;
    let sa = recv(&mut children).await;
    recv(&mut children).await;
    sa.join("r");

    parent.emit("to-all-children", 1).unwrap();
    let ev = a
        .next_event_in("/dyn-a", "to-all-children", WAIT)
        .await
        .expect("/dyn-a reached");
    assert_eq!(ev.args, vec![json("1")]);
    b.next_event_in("/dyn-b", "to-all-children", WAIT)
        .await
        .expect("/dyn-b reached");

    parent.to("r").emit("to-room", 2).unwrap();
    a.next_event_in("/dyn-a", "to-room", WAIT)
        .await
        .expect("room r of /dyn-a reached");
    b.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn empty_dynamic_children_are_removed_only_when_configured() {
    for cleanup in [false, true] {
        let builder = SocketIo::builder();
        let io = if cleanup {
            builder.cleanup_empty_child_namespaces().build()
        } else {
            builder.build()
        };
        let parent = io.of_dynamic(|name| name.starts_with("/room-"));
        let mut gone = watch_disconnects(&parent);
        let addr = serve(&io).await;
        let mut c = RawClient::open(addr).await;
        c.connect("/room-1", None).await;
        assert!(io.namespaces().iter().any(|n| n.name() == "/room-1"));

        c.disconnect("/room-1").await;
        recv(&mut gone).await;
        let exists = io.namespaces().iter().any(|n| n.name() == "/room-1");
        assert_eq!(exists, !cleanup, "cleanup={cleanup}");
        // joining again works either way
        c.connect("/room-1", None).await;
        assert_eq!(io.of("/room-1").len(), 1);
    }
}

// --- arguments kept as text -------------------------------------------------------------

#[tokio::test]
async fn arguments_received_as_text_are_forwarded_as_they_came_and_read_as_values() {
    let io = SocketIo::new();
    io.on_connection(|socket| {
        // Forwarded untouched, in a broadcast and in the acknowledgement.
        socket.on("fwd", |socket, mut e| {
            let args = e.take_args();
            if let Some(io) = socket.server() {
                let _ = io.emit("back", args.clone());
            }
            let _ = e.ack(args);
        });
        // Read as typed values.
        socket.on("typed", |_, mut e| {
            let (n, s): (u32, String) = e.args_as().unwrap_or_default();
            let _ = e.ack(args![n + 1, s.to_uppercase()]);
        });
        // Changed by a packet middleware: what goes on is the change.
        socket.packet_middleware(|_, e| {
            if e.name == "mw" {
                e.args_mut().push(Value::from("added"));
            }
            Ok(())
        });
        socket.on("mw", |_, mut e| {
            let args = e.take_args();
            let _ = e.ack(args);
        });
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;

    c.send_raw(r#"21["fwd", {"a" : 1.50, "b":"\u00e9"} ,[ ]]"#)
        .await;
    let ack = c
        .next_matching(WAIT, |r| matches!(r.packet.data, PacketData::Ack { .. }))
        .await
        .expect("ack");
    assert_eq!(ack.text, r#"31[{"a" : 1.50, "b":"\u00e9"} ,[ ]]"#);
    let back = c
        .next_matching(WAIT, |r| r.packet.event_name() == Some("back"))
        .await
        .expect("broadcast");
    assert_eq!(back.text, r#"2["back",{"a" : 1.50, "b":"\u00e9"} ,[ ]]"#);
    assert_eq!(
        back.packet.args().expect("arguments"),
        [json(r#"{"a":1.5,"b":"é"}"#), json("[]")]
    );

    let typed = c.emit_with_ack("/", "typed", args![41, "x"], WAIT).await;
    assert_eq!(typed, [json("42"), json(r#""X""#)]);
    let changed = c.emit_with_ack("/", "mw", args![1], WAIT).await;
    assert_eq!(changed, [json("1"), json(r#""added""#)]);
}

// --- async listeners ----------------------------------------------------------------------

#[tokio::test]
async fn async_listeners_ack_after_awaiting_and_start_in_arrival_order() {
    let io = SocketIo::new();
    let log = Log::default();
    let started = log.clone();
    io.on_connection(move |s| {
        let started = started.clone();
        // each call waits a different time: the later events finish first
        s.on_async("work", move |socket, mut event| {
            let started = started.clone();
            async move {
                let n: u64 = event.arg(0).unwrap_or_default();
                started.push(format!("start {n}"));
                tokio::time::sleep(Duration::from_millis(600 - 200 * n)).await;
                started.push(format!("end {n}"));
                let _ = event.ack(format!("{n} done on {}", socket.id()));
            }
        });
    });
    let addr = serve(&io).await;
    let (mut c, sid) = RawClient::connect_main(addr).await;
    let ids: Vec<u64> = [
        c.emit_ack_id("/", "work", 0).await,
        c.emit_ack_id("/", "work", 1).await,
        c.emit_ack_id("/", "work", 2).await,
    ]
    .to_vec();
    for (n, id) in ids.iter().enumerate().rev() {
        let answer = c.next_ack("/", *id, WAIT).await.expect("the ack");
        assert_eq!(answer, vec![Value::from(format!("{n} done on {sid}"))]);
    }
    let order = log.wait_len(6).await;
    // started in arrival order, before any of them finished; finished shortest first
    assert_eq!(
        order,
        ["start 0", "start 1", "start 2", "end 2", "end 1", "end 0"]
    );
}

#[tokio::test]
async fn an_async_listener_that_never_waits_runs_before_the_next_event() {
    let io = SocketIo::new();
    let log = Log::default();
    let l = log.clone();
    io.on_connection(move |s| {
        let la = l.clone();
        s.on_async("a", move |_, _| {
            let l = la.clone();
            async move { l.push("a") }
        });
        let lb = l.clone();
        s.on("b", move |_, _| lb.push("b"));
        install_sync(s);
    });
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    c.emit("/", "a", args![]).await;
    c.emit("/", "b", args![]).await;
    sync(&mut c, "/").await;
    assert_eq!(log.get(), ["a", "b"]);
}

#[tokio::test]
async fn args_that_fail_to_serialize_fail_the_emit() {
    let io = SocketIo::new();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;
    // a map with non-string keys has no JSON form
    let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
    assert!(matches!(
        s.emit("x", args!["fine", bad]),
        Err(EmitError::Serialize(_))
    ));
    assert!(matches!(
        io.emit("x", args![bad2()]),
        Err(EmitError::Serialize(_))
    ));
    c.expect_nothing(QUIET).await;
}

fn bad2() -> std::collections::HashMap<(u8, u8), u8> {
    [((0, 0), 0)].into_iter().collect()
}

#[tokio::test]
async fn sockets_in_lists_this_servers_room_members_at_once() {
    let io = SocketIo::new();
    let (_c, s) = three(&io).await;
    s[0].join(["a", "b"]);
    s[1].join("b");
    let ids = |v: Vec<Socket>| sorted(v.iter().map(|s| s.id().to_string()).collect());
    assert_eq!(
        ids(io.sockets().sockets_in("b")),
        sorted(vec![s[0].id().to_string(), s[1].id().to_string()])
    );
    assert_eq!(
        ids(io.sockets().sockets_in(["a", "b"])),
        sorted(vec![s[0].id().to_string(), s[1].id().to_string()])
    );
    assert_eq!(
        ids(io.sockets().sockets_in(s[2].id())),
        vec![s[2].id().to_string()]
    );
    assert!(io.sockets().sockets_in("nobody").is_empty());
}

// --- limits -------------------------------------------------------------------------------

#[tokio::test]
async fn a_connection_joins_at_most_max_namespaces() {
    let io = SocketIo::builder().max_namespaces_per_connection(2).build();
    io.on_connection(install_sync);
    io.of("/a");
    io.of("/b");
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    c.connect("/a", None).await;
    let refused = c
        .try_connect("/b", None)
        .await
        .expect_err("a third namespace");
    assert_eq!(
        refused.get("message").and_then(Value::as_str),
        Some("Too many namespaces on this connection")
    );
    // leaving one makes room again
    c.disconnect("/a").await;
    sync(&mut c, "/").await;
    c.connect("/b", None).await;
}

#[tokio::test]
async fn emits_with_ack_past_max_pending_acks_fail_at_once_and_free_on_timeout() {
    let io = SocketIo::builder().max_pending_acks(2).build();
    let mut sockets = capture(&io.sockets());
    let addr = serve(&io).await;
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;
    let short = Duration::from_millis(200);
    let first = tokio::spawn(s.timeout(short).emit_with_ack("q", 1));
    let second = tokio::spawn(s.timeout(short).emit_with_ack("q", 2));
    c.expect_event("q").await;
    c.expect_event("q").await;
    assert_eq!(
        s.timeout(short).emit_with_ack("q", 3).await,
        Err(AckError::TooManyPending)
    );
    assert_eq!(first.await.unwrap(), Err(AckError::Timeout));
    assert_eq!(second.await.unwrap(), Err(AckError::Timeout));
    // the timed-out ones were freed
    let again = tokio::spawn(s.timeout(WAIT).emit_with_ack("q", 4));
    let ev = c.expect_event("q").await;
    assert_eq!(ev.args, vec![Value::from(4)]);
    c.ack("/", ev.ack_id.unwrap(), "ok").await;
    assert_eq!(again.await.unwrap(), Ok(vec![Value::from("ok")]));

    // a broadcast counts a socket it could not ask as not answering
    let one = tokio::spawn(s.timeout(Duration::from_secs(60)).emit_with_ack("q", 5));
    let two = tokio::spawn(s.timeout(Duration::from_secs(60)).emit_with_ack("q", 6));
    c.expect_event("q").await;
    c.expect_event("q").await;
    match io.timeout(WAIT).emit_with_ack("q", 7).await {
        Err(BroadcastAckError::Incomplete { missing, responses }) => {
            assert_eq!((missing, responses.len()), (1, 0))
        }
        other => panic!("expected an incomplete broadcast, got {other:?}"),
    }
    one.abort();
    two.abort();
}

#[tokio::test]
async fn event_names_past_the_limit_and_nesting_past_max_depth_close_the_connection() {
    let io = SocketIo::builder()
        .max_event_name_len(8)
        .max_depth(3)
        .build();
    let seen = Log::default();
    let l = seen.clone();
    io.on_connection(move |s| {
        let l = l.clone();
        s.on_any(move |_, name, _| l.push(name));
        install_sync(s);
    });
    let addr = serve(&io).await;

    let (mut c, _) = RawClient::connect_main(addr).await;
    c.emit("/", "eightch!", args![]).await;
    sync(&mut c, "/").await;
    c.emit("/", "ninechars", args![]).await;
    assert!(c.wait_closed(WAIT).await.is_some());

    let (mut c, _) = RawClient::connect_main(addr).await;
    c.send_raw(r#"2["deep",[[1]]]"#).await;
    sync(&mut c, "/").await;
    c.send_raw(r#"2["deep",[[[1]]]]"#).await;
    assert!(c.wait_closed(WAIT).await.is_some());
    assert_eq!(seen.get(), ["eightch!", "sync", "deep", "sync"]);
}

#[tokio::test]
async fn close_stops_accepting_tells_everyone_and_awaits_every_task() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = SocketIo::builder()
        .close_grace(Duration::from_secs(3))
        .build();
    let mut sockets = capture(&io.sockets());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn({
        let io = io.clone();
        async move { io.serve(listener).await }
    });
    // a WebSocket client with an acknowledgement pending
    let (mut c, _) = RawClient::connect_main(addr).await;
    let s = recv(&mut sockets).await;
    let pending = tokio::spawn(s.emit_with_ack("never-answered", args![]));
    c.expect_event("never-answered").await;
    // a polling session, its keep-alive HTTP connection left idle
    let mut http = tokio::net::TcpStream::connect(addr).await.unwrap();
    http.write_all(
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = http.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(io.engine().task_count() >= 3);

    assert!(io.close().await, "every task ended within the grace period");
    assert_eq!(io.engine().task_count(), 0);
    assert_eq!(pending.await.unwrap(), Err(AckError::Disconnected));
    assert!(c.wait_closed(WAIT).await.is_some());
    // the idle HTTP connection was closed by the server
    let closed = tokio::time::timeout(WAIT, http.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(closed, Ok(0) | Err(_)));
    // serve returned, and nothing accepts any more
    served.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
