//! The client against the npm socket.io 2.5 server (Engine.IO 3, Socket.IO protocol v4;
//! `tests/js/client/server-v2.mjs`).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{v, NodeServer, Recorder, SERIAL};
use serde::{Deserialize, Serialize};
use sockio_client::{args, ClientBuilder, Error, TransportKind, Value};

const T: Duration = Duration::from_secs(5);
const SCRIPT: &str = "server-v2.mjs";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Nested {
    name: String,
    blobs: Vec<Bytes>,
    inner: Inner,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    data: Bytes,
    n: u32,
}

fn nested() -> Nested {
    Nested {
        name: "file".into(),
        blobs: vec![Bytes::from_static(&[1, 2]), Bytes::from_static(&[3])],
        inner: Inner {
            data: Bytes::from_static(&[0xff, 0, 0x80]),
            n: 7,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_events_acks_binary_on_every_transport() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    for transports in [
        vec![TransportKind::Polling],
        vec![TransportKind::WebSocket],
        vec![TransportKind::Polling, TransportKind::WebSocket],
    ] {
        for nsp in ["/", "/admin"] {
            let label = format!("{transports:?} {nsp}");
            let rec = Recorder::new();
            let socket = ClientBuilder::new(&server.url(nsp))
                .eio3()
                .transports(&transports)
                .query("x", "1")
                .force_new(true)
                .on("connect", rec.handler("connect"))
                .on("bounced", rec.handler("bounced"))
                .on("answer-was", rec.handler("answer-was"))
                .on("question", |ev| {
                    let _ = ev.ack(args![
                        "answer",
                        Bytes::from_static(&[1, 2, 3]),
                        ev.args.len()
                    ]);
                })
                .connect()
                .await
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            // socket.io 2 ids: the engine id on `/`, `nsp#id` elsewhere.
            let id = socket
                .timeout(T)
                .emit_with_ack("id-please", ())
                .await
                .unwrap();
            assert_eq!(id[0].as_str(), socket.id().as_deref(), "{label}");
            assert_eq!(socket.id().unwrap().starts_with("/admin#"), nsp == "/admin");
            let query = socket
                .timeout(T)
                .emit_with_ack("query-please", ())
                .await
                .unwrap();
            assert_eq!(query[0].get("x").and_then(Value::as_str), Some("1"));
            assert_eq!(query[0].get("EIO").and_then(Value::as_str), Some("3"));
            let reply = socket
                .timeout(T)
                .emit_with_ack("echo", args!["a", 1, true])
                .await
                .unwrap();
            assert_eq!(reply, vec![v("\"a\""), v("1"), v("true")], "{label}");
            // Astral and accented text (UTF-16 lengths in v3 payloads), large binary.
            let text = "é😀\u{2028}x".repeat(5000);
            let blob = Bytes::from((0..200_000u32).map(|i| i as u8).collect::<Vec<u8>>());
            let reply = socket
                .timeout(T)
                .emit_with_ack("echo", args![&text, blob.clone()])
                .await
                .unwrap();
            assert_eq!(reply[0].as_str(), Some(text.as_str()), "{label}");
            assert_eq!(reply[1], Value::Binary(blob), "{label}");
            let paths = socket
                .timeout(T)
                .emit_with_ack("binary-paths", nested())
                .await
                .unwrap();
            assert_eq!(
                paths[0],
                v(r#"["$.blobs[0]","$.blobs[1]","$.inner.data"]"#),
                "{label}"
            );
            let reply = socket
                .timeout(T)
                .emit_with_ack("echo", nested())
                .await
                .unwrap();
            assert_eq!(
                sockio_client::from_value::<Nested>(reply[0].clone()).unwrap(),
                nested(),
                "{label}"
            );
            socket.emit("bounce", args![nested(), "x"]).unwrap();
            assert!(rec.wait("bounced", 1, T).await, "{label}");
            let got = &rec.args_of("bounced")[0];
            assert_eq!(
                sockio_client::from_value::<Nested>(got[0].clone()).unwrap(),
                nested()
            );
            socket.emit("ask-me", ()).unwrap();
            assert!(rec.wait("answer-was", 1, T).await, "{label}");
            assert_eq!(
                rec.args_of("answer-was")[0][0].as_str(),
                Some(r#"["answer",{"type":"Buffer","data":[1,2,3]},2]"#),
                "{label}"
            );
            // Our pings keep it open (300 ms interval, 200 ms timeout).
            let start = Instant::now();
            tokio::time::sleep(Duration::from_millis(1200)).await;
            assert!(socket.connected(), "{label} after {:?}", start.elapsed());
            assert_eq!(rec.count("connect"), 1, "{label}");
            socket.io().close();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexing_refusal_and_server_disconnect() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    let manager = ClientBuilder::new(&server.url("/"))
        .eio3()
        .reconnection_delay(Duration::from_millis(50))
        .manager()
        .unwrap();
    let main = manager.socket("/");
    let admin = manager.socket("/admin");
    main.connect_and_wait().await.unwrap();
    admin.connect_and_wait().await.unwrap();
    let a = main
        .timeout(T)
        .emit_with_ack("id-please", ())
        .await
        .unwrap();
    let b = admin
        .timeout(T)
        .emit_with_ack("id-please", ())
        .await
        .unwrap();
    assert_eq!(
        format!("/admin#{}", a[0].as_str().unwrap()),
        b[0].as_str().unwrap()
    );
    // A refused namespace (auth as the namespace query in protocol v4).
    let err = ClientBuilder::new(&server.url("/private"))
        .eio3()
        .auth(serde_json::json!({"token": "bad"}))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::ConnectRefused {
            message: "not authorized".into(),
            data: None
        }
    );
    let ok = ClientBuilder::new(&server.url("/private"))
        .eio3()
        .auth(serde_json::json!({"token": "good"}))
        .connect()
        .await
        .unwrap();
    let q = ok
        .timeout(T)
        .emit_with_ack("query-please", ())
        .await
        .unwrap();
    assert_eq!(q[0].get("token").and_then(Value::as_str), Some("good"));
    ok.io().close();
    // The server disconnects /admin: no reconnection.
    let rec = Recorder::new();
    rec.socket(&admin, &["disconnect", "connect"]);
    admin.emit("kick-me", ()).unwrap();
    assert!(rec.wait("disconnect", 1, T).await);
    assert_eq!(
        rec.args_of("disconnect")[0],
        vec![Value::from("io server disconnect")]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!admin.connected());
    assert_eq!(rec.count("connect"), 0);
    assert!(main.connected());
    manager.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_namespace_joined_late_and_rejoined() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    let manager = ClientBuilder::new(&server.url("/"))
        .eio3()
        .manager()
        .unwrap();
    // Only /admin at first: the server connects `/` on its own all the same.
    let admin = manager.socket("/admin");
    admin.connect_and_wait().await.unwrap();
    let admin_id = admin.id().unwrap();
    // `/` later: already connected by the server.
    let main = manager.socket("/");
    tokio::time::timeout(T, main.connect_and_wait())
        .await
        .unwrap()
        .unwrap();
    let id = main
        .timeout(T)
        .emit_with_ack("id-please", ())
        .await
        .unwrap();
    assert_eq!(format!("/admin#{}", id[0].as_str().unwrap()), admin_id);
    // Leave `/` and come back: an explicit CONNECT this time.
    let rec = Recorder::new();
    rec.socket(&main, &["connect", "disconnect"]);
    main.disconnect();
    assert!(rec.wait("disconnect", 1, T).await);
    tokio::time::timeout(T, main.connect_and_wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        main.timeout(T)
            .emit_with_ack("echo", "again")
            .await
            .unwrap(),
        vec![Value::from("again")]
    );
    assert!(admin.connected());
    manager.close();
}
