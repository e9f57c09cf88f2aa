//! The client against the npm socket.io 2.5 server (Engine.IO 3, Socket.IO protocol v4;
//! `tests/js/client/server-v2.mjs`).

mod common;

use std::time::{Duration, Instant};

use common::{
    answer_question, check_nested_round_trips, check_server_ack, check_text_binary_and_paths, v,
    Nested, NodeServer, Recorder, SERIAL,
};
use sockio_client::{args, ClientBuilder, Error, TransportKind, Value};

const T: Duration = Duration::from_secs(5);
const SCRIPT: &str = "server-v2.mjs";

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
                .on("question", answer_question)
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
            let sample = Nested::sample(&[3]);
            check_text_binary_and_paths(&socket, &sample, &label).await;
            check_nested_round_trips(&socket, &rec, &sample, &label).await;
            let answer = r#"["answer",{"type":"Buffer","data":[1,2,3]},2]"#;
            check_server_ack(&socket, &rec, answer, &label).await;
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
