//! The client against the npm socket.io 4.8 server (`tests/js/client/server-v4.mjs`),
//! started and stopped (by pid) by each test.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    answer_question, check_multiplexing, check_nested_round_trips, check_server_ack,
    check_text_binary_and_paths, v, Nested, NodeServer, Recorder, SERIAL,
};
use sockio_client::{args, ClientBuilder, Error, TransportKind, Value};

const T: Duration = Duration::from_secs(5);
const SCRIPT: &str = "server-v4.mjs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_acks_binary_and_options_on_every_transport() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    for (transports, expect) in [
        (vec![TransportKind::Polling], "polling"),
        (vec![TransportKind::WebSocket], "websocket"),
        (
            vec![TransportKind::Polling, TransportKind::WebSocket],
            "websocket",
        ),
    ] {
        let label = format!("{transports:?}");
        let rec = Recorder::new();
        let socket = ClientBuilder::new(&format!("{}?x=1", server.url("/")))
            .transports(&transports)
            .query("y", "two words")
            .header("x-test", "yes")
            .unwrap()
            .force_new(true)
            .on("bounced", rec.handler("bounced"))
            .on("message", rec.handler("message"))
            .on("answer-was", rec.handler("answer-was"))
            .on("question", answer_question)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        // The transport after the upgrade.
        let deadline = Instant::now() + T;
        loop {
            let t = socket
                .timeout(T)
                .emit_with_ack("transport-please", ())
                .await
                .unwrap();
            if t[0].as_str() == Some(expect) || Instant::now() > deadline {
                assert_eq!(t[0].as_str(), Some(expect), "{label}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Query and headers.
        let hs = socket
            .timeout(T)
            .emit_with_ack("handshake-please", ())
            .await
            .unwrap();
        let query = hs[0].get("query").unwrap();
        assert_eq!(query.get("x").and_then(Value::as_str), Some("1"), "{label}");
        assert_eq!(query.get("y").and_then(Value::as_str), Some("two words"));
        assert_eq!(query.get("EIO").and_then(Value::as_str), Some("4"));
        let headers = hs[0].get("headers").unwrap();
        assert_eq!(headers.get("x-test").and_then(Value::as_str), Some("yes"));
        // Acks with several arguments.
        let reply = socket
            .timeout(T)
            .emit_with_ack("echo", args!["a", 1, true, Value::Null])
            .await
            .unwrap();
        assert_eq!(reply, vec![v("\"a\""), v("1"), v("true"), v("null")]);
        let sample = Nested::sample(&[]);
        check_text_binary_and_paths(&socket, &sample, &label).await;
        check_nested_round_trips(&socket, &rec, &sample, &label).await;
        // The server's emitWithAck answered by the client, binary included.
        let answer = r#"["answer",{"type":"Buffer","data":[1,2,3]},2]"#;
        check_server_ack(&socket, &rec, answer, &label).await;
        // socket.send() on the server is the `message` event.
        socket.emit("send-me", ()).unwrap();
        assert!(rec.wait("message", 1, T).await, "{label}");
        assert_eq!(rec.args_of("message")[0], vec![Value::from("a message")]);
        // Idle across several heartbeats (300 ms + 200 ms).
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(socket.connected(), "{label}");
        assert_eq!(
            socket.timeout(T).emit_with_ack("echo", 1).await.unwrap(),
            vec![Value::from(1)]
        );
        socket.io().close();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexing_and_force_new() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    check_multiplexing(|nsp| server.url(nsp)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_callback_and_connect_error_data() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    let calls = Arc::new(Mutex::new(0u32));
    let counter = calls.clone();
    let socket = ClientBuilder::new(&server.url("/private"))
        .force_new(true)
        .auth_with(move || {
            let counter = counter.clone();
            async move {
                let n = {
                    let mut c = counter.lock().unwrap();
                    *c += 1;
                    *c
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
                Value::object([("token", Value::from("good")), ("n", Value::from(n))])
            }
        })
        .connect()
        .await
        .unwrap();
    let auth = socket
        .timeout(T)
        .emit_with_ack("auth-please", ())
        .await
        .unwrap();
    assert_eq!(auth[0], v(r#"{"token":"good","n":1}"#));
    // Every connection runs the callback again.
    socket.disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    socket.connect_and_wait().await.unwrap();
    let auth = socket
        .timeout(T)
        .emit_with_ack("auth-please", ())
        .await
        .unwrap();
    assert_eq!(auth[0], v(r#"{"token":"good","n":2}"#));
    socket.io().close();

    let rec = Recorder::new();
    let err = ClientBuilder::new(&server.url("/private"))
        .auth(serde_json::json!({"token": "bad"}))
        .on("connect_error", rec.handler("connect_error"))
        .connect()
        .await
        .unwrap_err();
    let Error::ConnectRefused { message, data } = err else {
        panic!("{err:?}")
    };
    assert_eq!(message, "not authorized");
    assert_eq!(data, Some(v(r#"{"code":42,"auth":{"token":"bad"}}"#)));
    assert!(rec.wait("connect_error", 1, T).await);
    assert_eq!(
        rec.args_of("connect_error")[0][0]
            .get("data")
            .and_then(|d| d.get("code"))
            .cloned(),
        Some(Value::from(42))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_timeouts_retries_send_buffer_and_volatile() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    // The send buffer: emits before the connection are delivered in order, volatile
    // ones are dropped.
    let socket = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .build()
        .unwrap();
    socket.emit("record", "one").unwrap();
    socket.volatile().emit("record", "volatile").unwrap();
    socket.emit("record", "two").unwrap();
    let records = socket
        .timeout(T)
        .emit_with_ack("records", ())
        .await
        .unwrap();
    assert_eq!(records[0], v(r#"["one","two"]"#));
    assert!(socket.connected());
    socket.volatile().emit("record", "three").unwrap();
    let records = socket
        .timeout(T)
        .emit_with_ack("records", ())
        .await
        .unwrap();
    assert_eq!(records[0], v(r#"["three"]"#));
    // No answer: a timeout.
    let err = socket
        .timeout(Duration::from_millis(200))
        .emit_with_ack("slow", ())
        .await
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    // `flaky` answers only the second delivery: without retries, a timeout.
    let err = socket
        .timeout(Duration::from_millis(300))
        .emit_with_ack("flaky", "once")
        .await
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    socket.io().close();

    // With retries: delivered again until acknowledged.
    let socket = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .retries(3)
        .ack_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let reply = socket.emit_with_ack("flaky", "k1").await.unwrap();
    assert_eq!(reply, vec![Value::from("ok"), Value::from(2)]);
    // Plain emits with retries go in order, each until acknowledged.
    socket.emit("flaky", "k2").unwrap();
    socket.emit("flaky", "k3").unwrap();
    let reply = socket.emit_with_ack("flaky", "k4").await.unwrap();
    assert_eq!(reply, vec![Value::from("ok"), Value::from(2)]);
    let reply = socket.emit_with_ack("flaky", "k2").await.unwrap();
    assert_eq!(reply, vec![Value::from("ok"), Value::from(3)]);
    socket.io().close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_disconnect_does_not_reconnect() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&server.url("/"))
        .reconnection_delay(Duration::from_millis(50))
        .force_new(true)
        .on("connect", rec.handler("connect"))
        .on("disconnect", rec.handler("disconnect"))
        .connect()
        .await
        .unwrap();
    rec.manager(&socket.io(), &["reconnecting"]);
    socket.emit("kick-me", ()).unwrap();
    assert!(rec.wait("disconnect", 1, T).await);
    assert_eq!(
        rec.args_of("disconnect")[0],
        vec![Value::from("io server disconnect")]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rec.names(), vec!["connect", "disconnect"]);
    assert!(!socket.connected());
    assert!(!socket.is_active());
}

const LIFECYCLE: [&str; 6] = [
    "connecting",
    "connect",
    "connect_error",
    "connect_failed",
    "disconnect",
    "error",
];
const MANAGER: [&str; 5] = [
    "reconnecting",
    "reconnect_attempt",
    "reconnect",
    "reconnect_error",
    "reconnect_failed",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_event_order_and_backoff() {
    let _serial = SERIAL.lock().await;
    let mut server = NodeServer::start(SCRIPT, 0);
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .transports([TransportKind::WebSocket])
        .reconnection_delay(Duration::from_millis(200))
        .reconnection_delay_max(Duration::from_millis(700))
        .randomization_factor(0.0)
        .build()
        .unwrap();
    rec.socket(&socket, &LIFECYCLE);
    rec.manager(&socket.io(), &MANAGER);
    assert!(rec.wait("connect", 1, T).await);
    rec.clear();
    server.kill();
    // Attempts 1..4 fail (nothing listens): delays 200, 400, 700 (capped), 700.
    assert!(rec.wait("reconnecting", 4, Duration::from_secs(6)).await);
    server.restart();
    assert!(rec.wait("connect", 1, Duration::from_secs(6)).await);
    let names = rec.names();
    let mut expected = vec!["disconnect".to_owned()];
    let attempts = rec.count("reconnecting");
    for i in 1..attempts {
        expected.extend(
            [
                "reconnect_attempt",
                "reconnecting",
                "connecting",
                "connect_error",
                "reconnect_error",
            ]
            .map(str::to_owned),
        );
        assert_eq!(rec.args_of("reconnecting")[i - 1], vec![Value::from(i)]);
    }
    expected.extend(
        [
            "reconnect_attempt",
            "reconnecting",
            "connecting",
            "reconnect",
            "connect",
        ]
        .map(str::to_owned),
    );
    // `error` (the manager's) is not recorded on the socket: only socket and manager
    // names listed above.
    assert_eq!(names, expected);
    assert_eq!(
        rec.args_of("disconnect")[0],
        vec![Value::from("transport close")]
    );
    assert_eq!(rec.args_of("reconnect")[0], vec![Value::from(attempts)]);
    // Backoff: the gaps between the first attempts are the delays (the failures are
    // immediate): 400 then 700 ms.
    let times = rec.times_of("reconnecting");
    for (i, want) in [(1, 400u64), (2, 700), (3, 700)] {
        let gap = times[i].duration_since(times[i - 1]).as_millis() as u64;
        assert!(
            gap + 20 >= want && gap <= want + 150,
            "gap {i}: {gap} ms, want {want}"
        );
    }
    // It works again.
    assert_eq!(
        socket
            .timeout(T)
            .emit_with_ack("echo", "back")
            .await
            .unwrap(),
        vec![Value::from("back")]
    );
    socket.io().close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up() {
    let _serial = SERIAL.lock().await;
    let mut server = NodeServer::start(SCRIPT, 0);
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .reconnection_delay(Duration::from_millis(50))
        .randomization_factor(0.0)
        .reconnection_attempts(2)
        .build()
        .unwrap();
    rec.socket(&socket, &LIFECYCLE);
    rec.manager(&socket.io(), &MANAGER);
    assert!(rec.wait("connect", 1, T).await);
    rec.clear();
    server.kill();
    assert!(rec.wait("reconnect_failed", 1, T).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let expected: Vec<String> = [
        "disconnect",
        "reconnect_attempt",
        "reconnecting",
        "connecting",
        "connect_error",
        "reconnect_error",
        "reconnect_attempt",
        "reconnecting",
        "connecting",
        "connect_error",
        "reconnect_error",
        "reconnect_failed",
    ]
    .map(str::to_owned)
    .to_vec();
    assert_eq!(rec.names(), expected);

    // Never connected at all: `connect_failed`, and connect() says so.
    let rec = Recorder::new();
    let err = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .reconnection_delay(Duration::from_millis(20))
        .reconnection_attempts(1)
        .on("connect_failed", rec.handler("connect_failed"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err, Error::ConnectFailed);
    assert!(rec.wait("connect_failed", 1, T).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_upgrade_stays_on_polling() {
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    let socket = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .upgrade(false)
        .connect()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = socket
        .timeout(T)
        .emit_with_ack("transport-please", ())
        .await
        .unwrap();
    assert_eq!(t[0].as_str(), Some("polling"));
    socket.io().close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_namespace_changes_keep_the_connection() {
    // socket.io closes the whole connection on a second CONNECT for a namespace, or a
    // DISCONNECT for one not joined: the client must send neither.
    let _serial = SERIAL.lock().await;
    let server = NodeServer::start(SCRIPT, 0);
    let rec = Recorder::new();
    let main = ClientBuilder::new(&server.url("/"))
        .force_new(true)
        .on("disconnect", rec.handler("disconnect"))
        .connect()
        .await
        .unwrap();
    let manager = main.io();
    for _ in 0..5 {
        let admin = manager.socket("/admin");
        admin.connect();
        admin.disconnect();
        admin.connect();
        tokio::time::timeout(T, admin.connect_and_wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            admin.timeout(T).emit_with_ack("echo", "a").await.unwrap(),
            vec![Value::from("a")]
        );
        // Dropped while joined: it leaves.
        drop(admin);
        // Made, never connected, dropped: nothing is sent.
        drop(manager.socket("/never"));
        // Connecting, then dropped before the answer.
        manager.socket("/admin").connect();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(main.connected());
    assert_eq!(rec.args_of("disconnect"), Vec::<Vec<Value>>::new());
    let id = main
        .timeout(T)
        .emit_with_ack("engine-id", ())
        .await
        .unwrap();
    assert!(id[0].as_str().is_some());
    manager.close();
}
