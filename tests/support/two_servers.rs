//! What every adapter must carry between servers, checked on two servers joined by an
//! adapter: the same checks run over the in-process bus adapter (`cluster_adapter.rs`)
//! and over both Redis adapters (`redis_adapter.rs`), so a second implementation of the
//! boundary is held to exactly what the first one does.

use std::net::SocketAddr;
use std::time::Duration;

use sockio::server::{args, BroadcastAckError, Bytes, SocketIo, Value};
use tokio::net::TcpListener;

use super::raw_client::{RawClient, WAIT};

/// How long a client must stay without a packet to count as not reached.
pub const QUIET: Duration = Duration::from_millis(200);

/// Two servers, `a` and `b`, joined by their adapters, with raw clients on each: every
/// client is in room `node-a` or `node-b` (and has `{"room": …}` as its data).
pub struct TwoServers {
    pub a: SocketIo,
    pub b: SocketIo,
    /// The clients of `a`, with their socket ids.
    pub on_a: Vec<(RawClient, String)>,
    /// The clients of `b`, with their socket ids.
    pub on_b: Vec<(RawClient, String)>,
}

/// Serves `io` on 127.0.0.1, port 0.
pub async fn serve(io: &SocketIo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let io = io.clone();
    tokio::spawn(async move {
        let _ = io.serve(listener).await;
    });
    addr
}

impl TwoServers {
    /// Serves `a` and `b` (already built with their adapters) and connects `n` clients
    /// to each.
    pub async fn start(a: SocketIo, b: SocketIo, n: usize) -> TwoServers {
        for (io, room) in [(&a, "node-a"), (&b, "node-b")] {
            io.on_connection(move |s| {
                s.join(room);
                let _ = s.set_data(Value::from_json(&format!(r#"{{"room":"{room}"}}"#)).unwrap());
            });
        }
        let (addr_a, addr_b) = (serve(&a).await, serve(&b).await);
        let mut on_a = Vec::new();
        let mut on_b = Vec::new();
        for _ in 0..n {
            on_a.push(RawClient::connect_main(addr_a).await);
            on_b.push(RawClient::connect_main(addr_b).await);
        }
        // An adapter may subscribe to a room's channel as the room appears (Redis sharded).
        tokio::time::sleep(QUIET).await;
        TwoServers { a, b, on_a, on_b }
    }

    /// The socket ids of every client, sorted.
    fn all_ids(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .on_a
            .iter()
            .chain(&self.on_b)
            .map(|(_, id)| id.clone())
            .collect();
        all.sort();
        all
    }
}

pub async fn expect_quiet(c: &mut RawClient) {
    c.expect_nothing(QUIET).await;
}

/// Every client answers `ask` with its socket id.
pub async fn answer_all(clients: &mut [(RawClient, String)]) {
    for (client, id) in clients.iter_mut() {
        let ev = client.expect_event("ask").await;
        client.ack("/", ev.ack_id.unwrap(), id.as_str()).await;
    }
}

/// Broadcasts (two clients a server): to all with binary, to a room of the other server,
/// except a room and a socket, to one socket by id, local only, a socket's broadcast, a
/// room joined after the start.
pub async fn check_broadcasts(c: &mut TwoServers) {
    assert_eq!(c.a.sockets().server_count().await.unwrap(), 2);
    assert_eq!(c.b.sockets().server_count().await.unwrap(), 2);

    // everyone, from A — binary arguments cross too
    c.a.emit("hello", args!["x", Bytes::from_static(&[1, 2, 3])])
        .unwrap();
    for (client, _) in c.on_a.iter_mut().chain(c.on_b.iter_mut()) {
        let ev = client.expect_event("hello").await;
        assert_eq!(
            ev.args,
            vec![
                Value::from("x"),
                Value::Binary(Bytes::from_static(&[1, 2, 3]))
            ]
        );
    }
    for (client, _) in c.on_a.iter_mut().chain(c.on_b.iter_mut()) {
        expect_quiet(client).await;
    }

    // a room that lives on B only, from A
    c.a.to("node-b").emit("to-b", 1).unwrap();
    for (client, _) in c.on_b.iter_mut() {
        client.expect_event("to-b").await;
    }
    for (client, _) in c.on_a.iter_mut() {
        expect_quiet(client).await;
    }

    // except a room, and except one socket of B by its id
    let spared = c.on_b[0].1.clone();
    c.a.except(["node-a", spared.as_str()])
        .emit("most", args![])
        .unwrap();
    c.on_b[1].0.expect_event("most").await;
    expect_quiet(&mut c.on_b[0].0).await;
    expect_quiet(&mut c.on_a[0].0).await;

    // to one socket of A by id, from B
    let target = c.on_a[1].1.clone();
    c.b.to(target.as_str()).emit("private", "hi").unwrap();
    c.on_a[1].0.expect_event("private").await;
    expect_quiet(&mut c.on_a[0].0).await;

    // local: this server only
    c.a.local().emit("local-only", args![]).unwrap();
    for (client, _) in c.on_a.iter_mut() {
        client.expect_event("local-only").await;
    }
    for (client, _) in c.on_b.iter_mut() {
        expect_quiet(client).await;
    }

    // a socket's broadcast spares only itself, on every server
    let sender = c.a.sockets().socket(&c.on_a[0].1).expect("socket on A");
    sender.broadcast().emit("from-peer", args![]).unwrap();
    c.on_a[1].0.expect_event("from-peer").await;
    for (client, _) in c.on_b.iter_mut() {
        client.expect_event("from-peer").await;
    }
    expect_quiet(&mut c.on_a[0].0).await;

    // a room joined after the start, on B, reached from A
    let on_b = c.b.sockets().socket(&c.on_b[0].1).expect("socket on B");
    on_b.join("late");
    tokio::time::sleep(QUIET).await;
    c.a.to("late").emit("late-news", args![]).unwrap();
    c.on_b[0].0.expect_event("late-news").await;
    expect_quiet(&mut c.on_b[1].0).await;
}

/// Broadcasts with acknowledgements (two clients a server): every server's answers
/// gathered, a room of the other server, nobody selected, and a remote client that never
/// answers (`timeout` later, the answers that came).
pub async fn check_broadcast_acks(c: &mut TwoServers, timeout: Duration) {
    let pending = tokio::spawn(c.a.timeout(WAIT).emit_with_ack("ask", args![]));
    answer_all(&mut c.on_a).await;
    answer_all(&mut c.on_b).await;
    let mut got: Vec<String> = pending
        .await
        .unwrap()
        .expect("every client answered")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, c.all_ids());

    // a room on the other server only
    let pending = tokio::spawn(c.a.to("node-b").timeout(WAIT).emit_with_ack("ask", args![]));
    answer_all(&mut c.on_b).await;
    assert_eq!(pending.await.unwrap().unwrap().len(), 2);

    // nobody selected anywhere: an empty list at once
    let none =
        c.a.to("nobody")
            .timeout(WAIT)
            .emit_with_ack("ask", args![])
            .await;
    assert_eq!(none.unwrap(), Vec::<Value>::new());

    // one remote client never answers: the timeout gives the answers that came
    let pending = tokio::spawn(c.a.timeout(timeout).emit_with_ack("ask", args![]));
    answer_all(&mut c.on_a).await;
    let (client, id) = &mut c.on_b[0];
    let ev = client.expect_event("ask").await;
    client.ack("/", ev.ack_id.unwrap(), id.as_str()).await;
    c.on_b[1].0.expect_event("ask").await;
    match pending.await.unwrap() {
        Err(BroadcastAckError::Timeout { responses }) => assert_eq!(responses.len(), 3),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// `fetch_sockets` (one client a server): the other server's socket with its rooms, data
/// and handshake, a selection, and acting on the remote socket (emit, join, leave).
pub async fn check_fetch_sockets(c: &mut TwoServers) {
    let fetched = c.a.fetch_sockets().await.unwrap();
    assert_eq!(fetched.len(), 2);
    let remote = fetched
        .iter()
        .find(|s| *s.id() == *c.on_b[0].1)
        .expect("B's socket among A's results");
    assert!(remote.rooms().iter().any(|r| r.as_str() == "node-b"));
    assert_eq!(
        remote.data_value().get("room").and_then(Value::as_str),
        Some("node-b")
    );
    let handshake = remote.handshake();
    assert!(handshake.url.starts_with("/socket.io/?EIO=4"));
    assert_eq!(handshake.address, "127.0.0.1");
    assert_eq!(
        handshake.query.get("EIO").and_then(Value::as_str),
        Some("4")
    );
    assert!(handshake
        .time
        .ends_with("GMT+0000 (Coordinated Universal Time)"));

    // selections cross too
    let only_b = c.a.to("node-b").fetch_sockets().await.unwrap();
    assert_eq!(only_b.len(), 1);
    assert_eq!(*only_b[0].id(), *c.on_b[0].1);

    // acting on the remote socket from A
    remote.emit("direct", 7).unwrap();
    let ev = c.on_b[0].0.expect_event("direct").await;
    assert_eq!(ev.args, vec![Value::from(7)]);
    remote.join("joined-remotely").unwrap();
    tokio::time::sleep(QUIET).await;
    let on_b = c.b.sockets().socket(&c.on_b[0].1).expect("socket on B");
    assert!(on_b.rooms().iter().any(|r| r.as_str() == "joined-remotely"));
    remote.leave("joined-remotely").unwrap();
    tokio::time::sleep(QUIET).await;
    assert!(!on_b.rooms().iter().any(|r| r.as_str() == "joined-remotely"));
}

/// Every room of every server (one client a server).
pub async fn check_all_rooms(c: &TwoServers) {
    let mut rooms: Vec<String> =
        c.a.sockets()
            .all_rooms()
            .await
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
    rooms.sort();
    rooms.dedup();
    let mut expected = vec![
        "node-a".to_owned(),
        "node-b".to_owned(),
        c.on_a[0].1.clone(),
        c.on_b[0].1.clone(),
    ];
    expected.sort();
    assert_eq!(rooms, expected);
}

/// `sockets_join`, `sockets_leave`, disconnect with close and namespace disconnect
/// across servers (one client a server).
pub async fn check_sockets_join_leave_disconnect(c: &mut TwoServers) {
    c.a.to("node-b").sockets_join("vip").unwrap();
    tokio::time::sleep(QUIET).await;
    c.a.to("vip").emit("vip-only", args![]).unwrap();
    c.on_b[0].0.expect_event("vip-only").await;
    expect_quiet(&mut c.on_a[0].0).await;

    c.b.sockets_leave("vip").unwrap();
    tokio::time::sleep(QUIET).await;
    c.a.to("vip").emit("vip-only", args![]).unwrap();
    expect_quiet(&mut c.on_b[0].0).await;

    // disconnect_and_close from B reaches A's socket and closes its connection
    c.b.to("node-a").disconnect_and_close_sockets().unwrap();
    assert!(c.on_a[0].0.wait_closed(WAIT).await.is_some());
    assert!(!c.on_b[0].0.is_closed());
    // namespace disconnect of every socket, from A
    c.a.disconnect_sockets().unwrap();
    assert!(c.on_b[0].0.next_disconnect("/", WAIT).await);
}

/// Server-side events with and without acknowledgement reach the other server only;
/// reserved names are refused before anything is sent.
pub async fn check_server_side_events(c: &TwoServers) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(char, Vec<Value>)>();
    for (io, name) in [(&c.a, 'a'), (&c.b, 'b')] {
        let tx = tx.clone();
        io.sockets().on_server_side("note", move |args| {
            let _ = tx.send((name, args.to_vec()));
        });
        io.sockets().on_server_side_with_ack("ask", move |args| {
            Value::Array(vec![Value::from(name.to_string()), args[0].clone()])
        });
    }
    c.a.server_side_emit("note", args![1, "two"]).unwrap();
    let (who, args) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who, 'b', "only the other server gets it");
    assert_eq!(args, vec![Value::from(1), Value::from("two")]);
    assert!(tokio::time::timeout(QUIET, rx.recv()).await.is_err());

    let answers =
        c.a.sockets()
            .server_side_emit_with_ack("ask", "q", WAIT)
            .await
            .unwrap();
    assert_eq!(
        answers,
        vec![Value::Array(vec![Value::from("b"), Value::from("q")])]
    );

    assert!(c.a.server_side_emit("connect", args![]).is_err());
}
