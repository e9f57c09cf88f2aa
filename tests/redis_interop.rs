//! Mixed clusters on one real Redis: two sockio conformance nodes (cluster mode,
//! `sockio-redis`) and one socket.io 4.8 node with `@socket.io/redis-adapter` 8.3
//! (`tests/js/reference/conformance-server.mjs`), driven by socket.io-client 4.8 from
//! `tests/js/redis/cluster.test.mjs` — classic and sharded adapters, a default-parser
//! and a msgpack-parser sockio node, `@socket.io/redis-emitter` into the cluster — and
//! `sockio-redis-emitter` into a cluster of Node nodes.

mod support;

use std::time::Duration;

use sockio::server::{Bytes, Value};
use sockio_redis_emitter::Emitter;
use support::raw_client::{RawClient, WAIT};
use support::redis::RedisServer;
use support::{run_node_tests_with_env, serial, Server};

fn mixed_cluster(kind: &str) {
    let _one_at_a_time = serial();
    let redis = RedisServer::start();
    let url = redis.url();
    let node = |id: &'static str, parser: &'static str| {
        [
            ("REDIS_URL", url.as_str()),
            ("REDIS_ADAPTER", kind),
            ("NODE_ID", id),
            ("PARSER", parser),
        ]
    };
    let a = Server::start_with_env(&node("A", "default"));
    let b = Server::start_with_env(&node("B", "msgpack"));
    let c = Server::start_node_reference(&node("C", "default"));
    let nodes = format!("A={},B={},C={}", a.url(), b.url(), c.url());
    run_node_tests_with_env(
        &a.url(),
        &["redis/cluster.test.mjs"],
        &[
            ("CLUSTER_NODES", nodes.as_str()),
            ("CLUSTER_MSGPACK", "B"),
            ("REDIS_URL", url.as_str()),
            ("REDIS_ADAPTER", kind),
        ],
    );
}

#[test]
fn mixed_cluster_classic() {
    mixed_cluster("classic");
}

#[test]
fn mixed_cluster_sharded() {
    mixed_cluster("sharded");
}

/// `sockio-redis-emitter` publishing into a cluster of socket.io 4.8 nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_emitter_reaches_node_servers() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str()), ("NODE_ID", "N")];
    let node = Server::start_node_reference(&env);
    let other = Server::start_node_reference(&env);
    let addr = |s: &Server| -> std::net::SocketAddr { ([127, 0, 0, 1], s.port).into() };
    let (mut x, x_id) = RawClient::connect_main(addr(&node)).await;
    let (mut y, y_id) = RawClient::connect_main(addr(&other)).await;
    let mut custom = RawClient::open(addr(&other)).await;
    custom.connect("/custom", None).await;
    // the reference server greets every socket with its auth
    x.expect_event("auth").await;
    y.expect_event("auth").await;
    custom
        .next_event_in("/custom", "auth", WAIT)
        .await
        .expect("auth");

    let emitter = Emitter::connect(&url).await.expect("connect");
    emitter
        .emit(
            "from-rust",
            vec![
                Value::from("hi"),
                Value::Binary(Bytes::from_static(&[1, 2])),
            ],
        )
        .await
        .unwrap();
    for c in [&mut x, &mut y] {
        let ev = c.expect_event("from-rust").await;
        assert_eq!(
            ev.args,
            vec![
                Value::from("hi"),
                Value::Binary(Bytes::from_static(&[1, 2]))
            ]
        );
    }
    emitter
        .to(y_id.as_str())
        .emit("to-y", vec![])
        .await
        .unwrap();
    y.expect_event("to-y").await;
    emitter
        .except(y_id.as_str())
        .emit("not-y", vec![])
        .await
        .unwrap();
    x.expect_event("not-y").await;
    y.expect_nothing(Duration::from_millis(200)).await;
    emitter
        .of("/custom")
        .emit("in-custom", vec![Value::from(3)])
        .await
        .unwrap();
    let ev = custom
        .next_event_in("/custom", "in-custom", WAIT)
        .await
        .expect("/custom event");
    assert_eq!(ev.args, vec![Value::from(3)]);

    // join a room through the emitter, then emit to it
    emitter
        .to(x_id.as_str())
        .sockets_join(["vip"])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    emitter.to("vip").emit("vip-news", vec![]).await.unwrap();
    x.expect_event("vip-news").await;
    y.expect_nothing(Duration::from_millis(200)).await;
    emitter.to("vip").sockets_leave(["vip"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    emitter.to("vip").emit("vip-news", vec![]).await.unwrap();
    x.expect_nothing(Duration::from_millis(200)).await;

    // server-side events reach every Node node (their `cluster-note` log)
    emitter
        .server_side_emit("cluster-note", vec![Value::from("rust-tag")])
        .await
        .unwrap();
    let id = x.emit_ack_id("/", "server-side-log", "rust-tag").await;
    let mut logged = x.next_ack("/", id, WAIT).await.expect("ack");
    for _ in 0..20 {
        if logged != vec![Value::from_json("[]").unwrap()] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let id = x.emit_ack_id("/", "server-side-log", "rust-tag").await;
        logged = x.next_ack("/", id, WAIT).await.expect("ack");
    }
    assert_eq!(logged, vec![Value::from_json(r#"[["rust-tag"]]"#).unwrap()]);

    emitter
        .to(x_id.as_str())
        .disconnect_sockets(false)
        .await
        .unwrap();
    assert!(x.next_disconnect("/", WAIT).await);
    assert!(!y.is_closed());
}

/// `{"$bin": "<hex>"}` → binary, everywhere in `v`.
fn with_binaries(v: Value) -> Value {
    match v {
        Value::Object(entries) => {
            if let [(key, Value::String(hex))] = &entries[..] {
                if key == "$bin" {
                    let bytes: Vec<u8> = (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect();
                    return Value::Binary(Bytes::from(bytes));
                }
            }
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, with_binaries(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(with_binaries).collect()),
        other => other,
    }
}

/// sockio's msgpack writer gives notepack.io's bytes (3.0.1, the Redis packages' version,
/// and 2.2.0, socket.io-msgpack-parser's) for every kind of value, every length class,
/// and reads them back to the same value.
#[test]
fn msgpack_bytes_equal_notepacks() {
    use sockio::protocol::socket::{decode_msgpack_value, encode_msgpack_value};
    let out = std::process::Command::new("node")
        .arg("redis/notepack-vectors.mjs")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js"))
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (version, hex, json) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let value = with_binaries(Value::from_json(json).expect("json"));
        let ours: String = encode_msgpack_value(&value)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let short = &json[..json.len().min(80)];
        assert_eq!(ours, hex, "notepack {version}: {short}");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            decode_msgpack_value(&bytes),
            Ok(value),
            "notepack {version}: {short}"
        );
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} vectors");
}

fn as_env(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Asks `handler` with `args` on `/` and returns the ack's first argument.
async fn ask(client: &mut RawClient, handler: &str, args: Vec<Value>, wait: Duration) -> Value {
    let id = client
        .emit_ack_id("/", handler, sockio::server::Args::from(args))
        .await;
    let mut answer = client
        .next_ack("/", id, wait)
        .await
        .unwrap_or_else(|| panic!("no answer to {handler}"));
    answer.remove(0)
}

/// conformance-server.md §6.6 in a mixed cluster: a node that stops answering (its
/// process stopped, its Redis connection open) makes the requests of the others — sockio's
/// and Node's — fail at their 5 s timeout, with the answers that came; once it dies, it
/// is no longer counted and requests complete at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_cluster_frozen_then_dead_node() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = |id: &str| -> Vec<(String, String)> {
        vec![
            ("REDIS_URL".to_owned(), url.clone()),
            ("NODE_ID".to_owned(), id.to_owned()),
        ]
    };
    let (va, vb, vc) = (env("A"), env("B"), env("C"));
    let a = Server::start_with_env(&as_env(&va));
    let b = Server::start_with_env(&as_env(&vb));
    let c = Server::start_node_reference(&as_env(&vc));
    let addr = |s: &Server| -> std::net::SocketAddr { ([127, 0, 0, 1], s.port).into() };
    let (mut x, _) = RawClient::connect_main(addr(&a)).await;
    let (mut z, _) = RawClient::connect_main(addr(&c)).await;
    let (_y, _) = RawClient::connect_main(addr(&b)).await;
    assert_eq!(
        ask(&mut x, "server-count", vec![], WAIT).await,
        Value::from(3)
    );

    b.signal("STOP");
    // the stop is asynchronous: let it take hold before asking
    tokio::time::sleep(Duration::from_millis(200)).await;
    let long = Duration::from_secs(8);
    let started = std::time::Instant::now();
    let (from_sockio, from_node) = tokio::join!(
        ask(&mut x, "fetch-sockets", vec![Value::Null], long),
        ask(&mut z, "fetch-sockets", vec![Value::Null], long),
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(4900) && took < long,
        "{took:?}"
    );
    assert!(from_sockio.get("error").is_some(), "{from_sockio:?}");
    assert_eq!(
        from_node,
        Value::from_json(r#"{"error":"timeout reached while waiting for fetchSockets response"}"#)
            .unwrap()
    );
    let (partial_sockio, partial_node) = tokio::join!(
        ask(
            &mut x,
            "server-side-emit-with-ack",
            vec![Value::from("t")],
            long
        ),
        ask(
            &mut z,
            "server-side-emit-with-ack",
            vec![Value::from("t")],
            long
        ),
    );
    assert_eq!(
        partial_sockio.get("responses"),
        Some(&Value::from_json(r#"[["C","t"]]"#).unwrap()),
        "{partial_sockio:?}"
    );
    assert!(partial_sockio.get("error").is_some());
    assert_eq!(
        partial_node,
        Value::from_json(
            r#"{"error":"timeout reached: only 1 responses received out of 2","responses":[["A","t"]]}"#
        )
        .unwrap()
    );

    // the node dies: no longer counted, requests complete at once
    drop(b);
    let started = std::time::Instant::now();
    while ask(&mut x, "server-count", vec![], WAIT).await != Value::from(2) {
        assert!(started.elapsed() < WAIT, "the dead node stays counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = std::time::Instant::now();
    let all = ask(&mut z, "fetch-sockets", vec![Value::Null], WAIT).await;
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
}
