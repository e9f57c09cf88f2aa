//! The Redis adapters (`sockio-redis`, classic and sharded) against a real
//! `redis-server` started by each test: two sockio servers in this process, each with its
//! own Redis connections, behave as one server for every cluster operation; Redis going
//! away and coming back; a node that stops answering or dies; and the emitter
//! (`sockio-redis-emitter`) reaching sockio servers. The Node.js interop (mixed clusters,
//! Node's emitter) is in `redis_interop.rs`.

mod support;

use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use sockio::server::{args, AdapterError, BroadcastAckError, Bytes, SocketIo, Value};
use sockio_redis::{AdapterKind, RedisAdapter, RedisAdapterOptions, SubscriptionMode};
use sockio_redis_emitter::Emitter;
use support::raw_client::{RawClient, WAIT};
use support::redis::{RedisCluster, RedisServer};
use support::two_servers::{self as checks, answer_all, expect_quiet, serve, TwoServers, QUIET};

const REQUESTS: Duration = Duration::from_millis(1500);

async fn node(redis: &RedisServer, kind: AdapterKind) -> (SocketIo, RedisAdapter) {
    node_at(&redis.url(), kind).await
}

async fn node_at(url: &str, kind: AdapterKind) -> (SocketIo, RedisAdapter) {
    let adapter = RedisAdapter::connect(
        RedisAdapterOptions::new(url)
            .kind(kind)
            .requests_timeout(REQUESTS),
    )
    .await
    .expect("connect to redis");
    let io = SocketIo::builder().adapter(adapter.factory()).build();
    adapter.ready("/").await.expect("subscribed");
    (io, adapter)
}

/// Two servers on one Redis, `n` clients on each (see [`TwoServers`]).
struct Cluster {
    redis: RedisServer,
    servers: TwoServers,
    _adapters: (RedisAdapter, RedisAdapter),
}

impl Deref for Cluster {
    type Target = TwoServers;
    fn deref(&self) -> &TwoServers {
        &self.servers
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut TwoServers {
        &mut self.servers
    }
}

async fn cluster(kind: AdapterKind, n: usize) -> Cluster {
    let redis = RedisServer::start();
    let (a, adapter_a) = node(&redis, kind).await;
    let (b, adapter_b) = node(&redis, kind).await;
    let servers = TwoServers::start(a, b, n).await;
    Cluster {
        redis,
        servers,
        _adapters: (adapter_a, adapter_b),
    }
}

#[tokio::test]
async fn classic_broadcasts_reach_both_servers() {
    checks::check_broadcasts(&mut cluster(AdapterKind::Classic, 2).await.servers).await;
}

#[tokio::test]
async fn sharded_broadcasts_reach_both_servers() {
    checks::check_broadcasts(&mut cluster(AdapterKind::Sharded, 2).await.servers).await;
}

#[tokio::test]
async fn classic_broadcast_acks_cross_servers() {
    let mut c = cluster(AdapterKind::Classic, 2).await;
    checks::check_broadcast_acks(&mut c, Duration::from_millis(600)).await;
}

#[tokio::test]
async fn sharded_broadcast_acks_cross_servers() {
    let mut c = cluster(AdapterKind::Sharded, 2).await;
    checks::check_broadcast_acks(&mut c, Duration::from_millis(600)).await;
}

async fn requests(kind: AdapterKind) {
    let mut c = cluster(kind, 1).await;
    checks::check_fetch_sockets(&mut c).await;
    // The sharded adapter does not answer `allRooms` (as @socket.io/redis-adapter's).
    if kind == AdapterKind::Classic {
        checks::check_all_rooms(&c).await;
    }
    checks::check_server_side_events(&c).await;
    checks::check_sockets_join_leave_disconnect(&mut c).await;
}

#[tokio::test]
async fn classic_requests_cross_servers() {
    requests(AdapterKind::Classic).await;
}

#[tokio::test]
async fn sharded_requests_cross_servers() {
    requests(AdapterKind::Sharded).await;
}

/// A raw Redis connection subscribed to `channel` (`SSUBSCRIBE` when sharded): counted
/// as a server, never answering — a node that froze.
fn frozen_node(redis: &RedisServer, channel: &str, sharded: bool) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    let cmd = if sharded { "SSUBSCRIBE" } else { "SUBSCRIBE" };
    write!(s, "{cmd} {channel}\r\n").unwrap();
    s
}

async fn frozen_and_dead(kind: AdapterKind) {
    let mut c = cluster(kind, 1).await;
    let sharded = kind == AdapterKind::Sharded;
    let channel = if sharded {
        "socket.io#/#"
    } else {
        "socket.io-request#/#"
    };
    let frozen = frozen_node(&c.redis, channel, sharded);
    let started = Instant::now();
    while c.a.sockets().server_count().await.unwrap() != 3 {
        assert!(started.elapsed() < WAIT, "the frozen node is never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.b.sockets()
        .on_server_side_with_ack("ask", |_| Value::from("b"));

    let started = Instant::now();
    match c.a.fetch_sockets().await {
        Err(AdapterError::Timeout { received, expected }) => {
            assert_eq!((received, expected), (1, 2))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= REQUESTS - Duration::from_millis(50) && took < REQUESTS + WAIT,
        "{took:?}"
    );

    match c
        .a
        .sockets()
        .server_side_emit_with_ack("ask", args![], Duration::from_millis(500))
        .await
    {
        Err(BroadcastAckError::Adapter { error, responses }) => {
            assert_eq!(
                error,
                AdapterError::Timeout {
                    received: 1,
                    expected: 2
                }
            );
            assert_eq!(responses, vec![Value::from("b")]);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }

    // broadcast with acks: every real client answers, the frozen node never counts
    let pending = tokio::spawn(
        c.a.timeout(Duration::from_millis(700))
            .emit_with_ack("ask", args![]),
    );
    answer_all(&mut c.on_a).await;
    answer_all(&mut c.on_b).await;
    match pending.await.unwrap() {
        Err(BroadcastAckError::Timeout { responses }) => assert_eq!(responses.len(), 2),
        other => panic!("expected a timeout, got {other:?}"),
    }

    // plain delivery goes on
    c.a.emit("still-here", args![]).unwrap();
    c.on_b[0].0.expect_event("still-here").await;

    // the node dies: Redis drops it, requests complete at once
    drop(frozen);
    let started = Instant::now();
    while c.a.sockets().server_count().await.unwrap() != 2 {
        assert!(started.elapsed() < WAIT, "the dead node stays counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    assert_eq!(c.a.fetch_sockets().await.unwrap().len(), 2);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn classic_frozen_node_times_out_with_partial_results() {
    frozen_and_dead(AdapterKind::Classic).await;
}

#[tokio::test]
async fn sharded_frozen_node_times_out_with_partial_results() {
    frozen_and_dead(AdapterKind::Sharded).await;
}

async fn redis_restart(kind: AdapterKind) {
    let mut c = cluster(kind, 1).await;
    c.redis.stop();
    // local delivery never stops, nothing panics
    c.a.emit("during", args![]).unwrap();
    c.on_a[0].0.expect_event("during").await;
    assert!(c.a.sockets().server_count().await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.redis.restart();

    // the adapters reconnect and resubscribe: delivery across resumes
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "delivery across servers never resumed"
        );
        c.a.to("node-b").emit("after", args![]).unwrap();
        if c.on_b[0]
            .0
            .next_event("after", Duration::from_millis(300))
            .await
            .is_some()
        {
            break;
        }
    }
    let started = Instant::now();
    while c.a.sockets().server_count().await.ok() != Some(2) {
        assert!(started.elapsed() < WAIT, "servers not counted again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // requests too, both ways
    assert_eq!(c.b.fetch_sockets().await.unwrap().len(), 2);
    c.b.emit("both-ways", args![]).unwrap();
    c.on_a[0].0.expect_event("both-ways").await;
}

#[tokio::test]
async fn classic_survives_a_redis_restart() {
    redis_restart(AdapterKind::Classic).await;
}

#[tokio::test]
async fn sharded_survives_a_redis_restart() {
    redis_restart(AdapterKind::Sharded).await;
}

#[tokio::test]
async fn the_emitter_reaches_sockio_servers() {
    let mut c = cluster(AdapterKind::Classic, 1).await;
    let emitter = Emitter::connect(&c.redis.url()).await.unwrap();
    emitter
        .emit(
            "from-emitter",
            vec![Value::from(1), Value::Binary(Bytes::from_static(&[9]))],
        )
        .await
        .unwrap();
    for (client, _) in c.servers.on_a.iter_mut().chain(c.servers.on_b.iter_mut()) {
        let ev = client.expect_event("from-emitter").await;
        assert_eq!(
            ev.args,
            vec![Value::from(1), Value::Binary(Bytes::from_static(&[9]))]
        );
    }
    emitter.to("node-b").emit("to-b", vec![]).await.unwrap();
    c.on_b[0].0.expect_event("to-b").await;
    expect_quiet(&mut c.on_a[0].0).await;
    let spared = c.on_a[0].1.clone();
    emitter.except(spared).emit("not-a", vec![]).await.unwrap();
    c.on_b[0].0.expect_event("not-a").await;
    expect_quiet(&mut c.on_a[0].0).await;

    emitter.to("node-a").sockets_join(["joined"]).await.unwrap();
    tokio::time::sleep(QUIET).await;
    c.b.to("joined").emit("joined-news", args![]).unwrap();
    c.on_a[0].0.expect_event("joined-news").await;
    emitter.sockets_leave(["joined"]).await.unwrap();
    tokio::time::sleep(QUIET).await;
    c.b.to("joined").emit("joined-news", args![]).unwrap();
    expect_quiet(&mut c.on_a[0].0).await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<char>();
    for (io, name) in [(&c.a, 'a'), (&c.b, 'b')] {
        let tx = tx.clone();
        io.sockets().on_server_side("note", move |_| {
            let _ = tx.send(name);
        });
    }
    emitter.server_side_emit("note", vec![]).await.unwrap();
    let mut got = vec![
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
    ];
    got.sort();
    assert_eq!(
        got,
        ['a', 'b'],
        "every server gets an emitter's server-side event"
    );

    emitter
        .to("node-b")
        .disconnect_sockets(false)
        .await
        .unwrap();
    assert!(c.on_b[0].0.next_disconnect("/", WAIT).await);
    assert!(!c.on_a[0].0.is_closed());
    assert!(emitter.emit("disconnect", vec![]).await.is_err());
}

/// Both adapters on a real Redis Cluster (three primaries): the channels of a namespace
/// and of its rooms live on different shards; each node subscribes where the slot is.
async fn on_a_redis_cluster(kind: AdapterKind) {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let (a, adapter_a) = node_at(&url, kind).await;
    let (b, adapter_b) = node_at(&url, kind).await;
    for io in [&a, &b] {
        // a namespace whose channels hash elsewhere than `/`'s
        let _ = io.of("/chat");
    }
    adapter_a.ready("/chat").await.unwrap();
    adapter_b.ready("/chat").await.unwrap();
    let (addr_a, addr_b) = (serve(&a).await, serve(&b).await);
    let (mut x, x_id) = RawClient::connect_main(addr_a).await;
    let (mut y, y_id) = RawClient::connect_main(addr_b).await;
    let mut chat = RawClient::open(addr_b).await;
    chat.connect("/chat", None).await;
    let rooms = ["alpha", "bravo", "charlie", "delta", "echo"];
    for room in rooms {
        b.sockets().socket(&y_id).unwrap().join(room);
    }
    tokio::time::sleep(QUIET).await;

    assert_eq!(a.sockets().server_count().await.unwrap(), 2);
    assert_eq!(a.of("/chat").server_count().await.unwrap(), 2);
    a.emit("all", 1).unwrap();
    x.expect_event("all").await;
    y.expect_event("all").await;
    for room in rooms {
        a.to(room).emit("room", room).unwrap();
        assert_eq!(y.expect_event("room").await.args, vec![Value::from(room)]);
    }
    expect_quiet(&mut x).await;
    a.of("/chat").emit("chat", args![]).unwrap();
    chat.next_event_in("/chat", "chat", WAIT)
        .await
        .expect("/chat event");
    b.to(x_id.as_str()).emit("to-x", args![]).unwrap();
    x.expect_event("to-x").await;

    let ids: Vec<String> = a
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&y_id));

    let pending = tokio::spawn(a.timeout(WAIT).emit_with_ack("ask", args![]));
    for (c, id) in [(&mut x, &x_id), (&mut y, &y_id)] {
        let ev = c.expect_event("ask").await;
        c.ack("/", ev.ack_id.unwrap(), id.as_str()).await;
    }
    assert_eq!(pending.await.unwrap().unwrap().len(), 2);

    b.sockets()
        .on_server_side_with_ack("ping", |_| Value::from("pong"));
    let answers = a
        .sockets()
        .server_side_emit_with_ack("ping", args![], WAIT)
        .await
        .unwrap();
    assert_eq!(answers, vec![Value::from("pong")]);
}

#[tokio::test]
async fn sharded_adapter_on_a_redis_cluster() {
    on_a_redis_cluster(AdapterKind::Sharded).await;
}

#[tokio::test]
async fn classic_adapter_on_a_redis_cluster() {
    on_a_redis_cluster(AdapterKind::Classic).await;
}

/// Garbage on every channel a namespace listens to — not msgpack, not JSON, the right
/// encoding with the wrong shapes — is ignored: nothing panics, the cluster goes on.
async fn garbage(kind: AdapterKind) {
    let mut c = cluster(kind, 1).await;
    let port = c.redis.port;
    let sharded = kind == AdapterKind::Sharded;
    let publish = if sharded { "SPUBLISH" } else { "PUBLISH" };
    let channels: &[&str] = if sharded {
        &["socket.io#/#", "socket.io#/#node-b#"]
    } else {
        &[
            "socket.io#/#",
            "socket.io#/#node-b#",
            "socket.io-request#/#",
            "socket.io-response#/#",
        ]
    };
    let payloads: &[&[u8]] = &[
        b"",
        b"{",
        b"\xc1\xff",
        b"\x93\xa1x",
        b"\x93\xa1x\x01\x02",
        b"\x93\xa1x\x81\xa4data\x05\x80",
        b"\x93\xa1x\x82\xa4type\x02\xa4data\x91\x05\x81\xa5rooms\x05",
        br#"{"type":5,"requestId":1,"opts":"x"}"#,
        br#"{"type":5,"requestId":"r","opts":{"rooms":5,"except":[null]}}"#,
        br#"{"type":7,"requestId":"r","opts":{},"packet":{"data":5}}"#,
        br#"{"type":6,"data":[]}"#,
        br#"{"type":6,"data":[1,2],"requestId":"q"}"#,
        br#"{"type":2,"opts":{},"rooms":"x"}"#,
        br#"{"type":4,"sid":5}"#,
        br#"{"type":8,"requestId":"r","clientCount":"many"}"#,
        br#"{"type":3,"uid":"zz","nsp":"/","data":{"packet":7,"opts":[]}}"#,
        br#"{"type":7,"uid":"zz","nsp":"/","data":{"opts":{"rooms":[{}]}}}"#,
        br#"{"type":9,"uid":"zz","nsp":"/","data":{"packet":{}}}"#,
        br#"{"type":11,"uid":"zz","nsp":"/","data":{"requestId":[]}}"#,
        br#"[1,2,3]"#,
    ];
    {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        for channel in channels {
            for payload in payloads {
                // RESP array: command, channel, payload (binary-safe)
                let mut cmd = format!(
                    "*3\r\n${}\r\n{publish}\r\n${}\r\n{channel}\r\n${}\r\n",
                    publish.len(),
                    channel.len(),
                    payload.len()
                )
                .into_bytes();
                cmd.extend_from_slice(payload);
                cmd.extend_from_slice(b"\r\n");
                s.write_all(&cmd).unwrap();
            }
        }
        s.flush().unwrap();
        tokio::time::sleep(QUIET).await;
    }
    c.a.emit("after-garbage", args![]).unwrap();
    c.on_b[0].0.expect_event("after-garbage").await;
    assert_eq!(c.b.fetch_sockets().await.unwrap().len(), 2);
}

#[tokio::test]
async fn classic_ignores_garbage() {
    garbage(AdapterKind::Classic).await;
}

#[tokio::test]
async fn sharded_ignores_garbage() {
    garbage(AdapterKind::Sharded).await;
}

/// `publish_on_specific_response_channel`: answers go to the requester's own channel,
/// which every server listens to whatever its own setting.
#[tokio::test]
async fn classic_answers_on_the_requesters_channel() {
    let redis = RedisServer::start();
    let specific = RedisAdapter::connect(
        RedisAdapterOptions::new(redis.url())
            .publish_on_specific_response_channel(true)
            .requests_timeout(REQUESTS),
    )
    .await
    .unwrap();
    let a = SocketIo::builder().adapter(specific.factory()).build();
    specific.ready("/").await.unwrap();
    let (b, _adapter_b) = node(&redis, AdapterKind::Classic).await;
    let (addr_a, addr_b) = (serve(&a).await, serve(&b).await);
    let (_x, x_id) = RawClient::connect_main(addr_a).await;
    let (_y, y_id) = RawClient::connect_main(addr_b).await;
    let mut monitor = subscribed(&redis, "PSUBSCRIBE socket.io-response#*");
    for (asker, other) in [(&a, &y_id), (&b, &x_id)] {
        let ids: Vec<String> = asker
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id().to_string())
            .collect();
        assert!(ids.contains(other), "{ids:?}");
    }
    // A (specific) answered B on B's own channel; B answered A on the shared one
    tokio::time::sleep(QUIET).await;
    let seen = received(&mut monitor);
    let specific_channels: Vec<&str> = seen
        .lines()
        .filter(|l| {
            l.starts_with("socket.io-response#/#") && l.len() > "socket.io-response#/#".len()
        })
        .collect();
    assert_eq!(specific_channels.len(), 1, "{seen}");
    assert!(seen.lines().any(|l| l == "socket.io-response#/#"), "{seen}");
}

/// A dynamic namespace subscribes with its first connection on this server; cleaned up
/// when empty, it leaves its channels (this server no longer counts there).
#[tokio::test]
async fn dynamic_namespaces_come_and_go() {
    let redis = RedisServer::start();
    let adapter = RedisAdapter::connect(RedisAdapterOptions::new(redis.url()))
        .await
        .unwrap();
    let io = SocketIo::builder()
        .adapter(adapter.factory())
        .cleanup_empty_child_namespaces()
        .build();
    let _parent = io.of_regex("^/dyn-[a-z]+$").unwrap();
    let addr = serve(&io).await;
    let numsub = || {
        support::redis::command(redis.port, "PUBSUB NUMSUB socket.io-request#/dyn-x#")
            .unwrap_or_default()
    };
    assert!(numsub().ends_with(":0\r\n"), "{}", numsub());
    let mut client = RawClient::open(addr).await;
    client.connect("/dyn-x", None).await;
    adapter.ready("/dyn-x").await.unwrap();
    assert!(numsub().ends_with(":1\r\n"), "{}", numsub());
    client.disconnect("/dyn-x").await;
    let started = Instant::now();
    while !numsub().ends_with(":0\r\n") {
        assert!(started.elapsed() < WAIT, "still subscribed: {}", numsub());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The sharded adapter's other subscription modes: `Static` (every message on the
/// namespace's channel, no room channels) and `DynamicPrivate` (a channel for socket id
/// rooms too); broadcasts reach the same sockets in every mode.
async fn sharded_mode(mode: SubscriptionMode) -> Vec<String> {
    let redis = RedisServer::start();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let adapter = RedisAdapter::connect(
            RedisAdapterOptions::new(redis.url())
                .kind(AdapterKind::Sharded)
                .subscription_mode(mode),
        )
        .await
        .unwrap();
        let io = SocketIo::builder().adapter(adapter.factory()).build();
        adapter.ready("/").await.unwrap();
        nodes.push((io, adapter));
    }
    let (addr_a, addr_b) = (serve(&nodes[0].0).await, serve(&nodes[1].0).await);
    let (mut x, x_id) = RawClient::connect_main(addr_a).await;
    let (mut y, y_id) = RawClient::connect_main(addr_b).await;
    nodes[1].0.sockets().socket(&y_id).unwrap().join("room");
    tokio::time::sleep(QUIET).await;
    let (a, b) = (&nodes[0].0, &nodes[1].0);
    a.to("room").emit("to-room", args![]).unwrap();
    y.expect_event("to-room").await;
    b.to(x_id.as_str()).emit("to-x", args![]).unwrap();
    x.expect_event("to-x").await;
    a.emit("all", args![]).unwrap();
    x.expect_event("all").await;
    y.expect_event("all").await;
    expect_quiet(&mut x).await;
    let channels = support::redis::command(redis.port, "PUBSUB SHARDCHANNELS").unwrap();
    let mut names: Vec<String> = channels
        .lines()
        .filter(|l| l.starts_with("socket.io#"))
        .map(str::to_owned)
        .collect();
    let (x_id, y_id) = (x_id.to_string(), y_id.to_string());
    names.sort();
    let mut names: Vec<String> = names
        .into_iter()
        .map(|n| n.replace(&x_id, "<x>").replace(&y_id, "<y>"))
        .filter(|n| {
            n.matches('#').count() == 3
                && !n
                    .chars()
                    .rev()
                    .skip(1)
                    .take(16)
                    .all(|c| c.is_ascii_hexdigit())
        })
        .collect();
    // the namespace's own channel and the servers' response channels are left out
    names.sort();
    names
}

#[tokio::test]
async fn sharded_static_mode_has_no_room_channels() {
    assert_eq!(
        sharded_mode(SubscriptionMode::Static).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn sharded_dynamic_private_mode_has_socket_id_channels() {
    assert_eq!(
        sharded_mode(SubscriptionMode::DynamicPrivate).await,
        ["socket.io#/#<x>#", "socket.io#/#<y>#", "socket.io#/#room#"]
    );
}

#[tokio::test]
async fn sharded_dynamic_mode_has_public_room_channels() {
    assert_eq!(
        sharded_mode(SubscriptionMode::Dynamic).await,
        ["socket.io#/#room#"]
    );
}

/// PUBLISHes `payload` on `channel` through a raw connection to `redis`.
fn publish_raw(redis: &RedisServer, channel: &str, payload: &str) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    let (c, p) = (channel.len(), payload.len());
    let cmd = format!("*3\r\n$7\r\nPUBLISH\r\n${c}\r\n{channel}\r\n${p}\r\n{payload}\r\n");
    s.write_all(cmd.as_bytes()).unwrap();
    let mut reply = [0u8; 64];
    let _ = std::io::Read::read(&mut s, &mut reply);
}

/// A raw connection to `redis` that sent `command` (a `SUBSCRIBE` or `PSUBSCRIBE`) and
/// read its confirmation: whatever is published from now on reaches it.
fn subscribed(redis: &RedisServer, command: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    write!(s, "{command}\r\n").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    // The confirmation is a 3-element array ending with the subscription count (":1").
    while !reply.ends_with(b":1\r\n") {
        let n = std::io::Read::read(&mut s, &mut buf).expect("no subscription confirmation");
        assert!(n > 0, "redis closed the connection");
        reply.extend_from_slice(&buf[..n]);
    }
    s
}

/// What a raw subscribed connection received within half a second.
fn received(monitor: &mut std::net::TcpStream) -> String {
    monitor
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = std::io::Read::read(monitor, &mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// The classic adapter's legacy single-socket requests (`sid` and `room` instead of
/// `opts`, as older Node adapters send them): applied and answered `{"requestId"}` when
/// the socket is on this server; neither when it is not, or a join names no room.
#[tokio::test]
async fn classic_applies_legacy_single_socket_requests() {
    let redis = RedisServer::start();
    let (io, _adapter) = node(&redis, AdapterKind::Classic).await;
    let (mut client, id) = RawClient::connect_main(serve(&io).await).await;
    let mut monitor = subscribed(&redis, "SUBSCRIBE socket.io-response#/#");
    let request = |kind: u8, request_id: &str, rest: &str| {
        let json = format!(r#"{{"type":{kind},"uid":"zz","requestId":"{request_id}",{rest}}}"#);
        publish_raw(&redis, "socket.io-request#/#", &json);
    };
    let other = "AAAAAAAAAAAAAAAAAAAA";
    request(2, "join", &format!(r#""sid":"{id}","room":"legacy""#));
    request(
        2,
        "not-here",
        &format!(r#""sid":"{other}","room":"legacy""#),
    );
    request(2, "no-room", &format!(r#""sid":"{id}""#));
    tokio::time::sleep(QUIET).await;
    io.to("legacy").emit("in-legacy", 1).unwrap();
    client.expect_event("in-legacy").await;
    let seen = received(&mut monitor);
    assert!(seen.contains(r#"{"requestId":"join"}"#), "{seen}");
    assert!(
        !seen.contains("not-here") && !seen.contains("no-room"),
        "{seen}"
    );

    request(3, "leave", &format!(r#""sid":"{id}","room":"legacy""#));
    tokio::time::sleep(QUIET).await;
    io.to("legacy").emit("in-legacy", 2).unwrap();
    expect_quiet(&mut client).await;
    request(4, "bye", &format!(r#""sid":"{id}","close":false"#));
    assert!(client.next_disconnect("/", WAIT).await);
    let seen = received(&mut monitor);
    assert!(seen.contains(r#"{"requestId":"leave"}"#), "{seen}");
    assert!(seen.contains(r#"{"requestId":"bye"}"#), "{seen}");
}
