//! The client against our own server (sockio-server, served in-process on port 0).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{
    answer_question, check_multiplexing, check_nested_round_trips, check_server_ack, v, Nested,
    Recorder,
};
use sockio_client::{args, ClientBuilder, Error, TransportKind, Value};
use sockio_server::{ConnectError, SocketIo};

const T: Duration = Duration::from_secs(5);

/// Our server with the handlers the tests use.
async fn server() -> (SocketIo, u16, Arc<Mutex<Vec<String>>>) {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .allow_eio3(true)
        .build();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let attempts = Arc::new(Mutex::new(std::collections::HashMap::<String, u32>::new()));
    let setup = move |socket: &sockio_server::Socket| {
        let seen = seen2.clone();
        let attempts = attempts.clone();
        // Acknowledged from the second delivery of each key on.
        socket.on("flaky", move |_, mut ev| {
            let key: String = ev.arg(0).unwrap_or_default();
            let n = {
                let mut a = attempts.lock().unwrap();
                let n = a.entry(key).or_insert(0);
                *n += 1;
                *n
            };
            if n >= 2 {
                let _ = ev.ack(sockio_server::args!["ok", n]);
            }
        });
        socket.on("echo", |_, mut ev| {
            let args = ev.take_args();
            let _ = ev.ack(args);
        });
        socket.on("record", move |_, ev| {
            let s: String = ev.arg(0).unwrap_or_default();
            seen.lock().unwrap().push(s);
        });
        socket.on("bounce", |s, mut ev| {
            let args = ev.take_args();
            let _ = s.emit("bounced", args);
        });
        socket.on("ask-me", |s, _| {
            let s = s.clone();
            tokio::spawn(async move {
                let answer = s
                    .timeout(Duration::from_secs(2))
                    .emit_with_ack("question", ("q", Bytes::from_static(&[9])))
                    .await;
                let text = match answer {
                    Ok(args) => Value::Array(args).to_json(),
                    Err(e) => format!("error: {e}"),
                };
                let _ = s.emit("answer-was", text);
            });
        });
        socket.on("auth-please", |s, mut ev| {
            let _ = ev.ack(s.handshake_data().auth);
        });
        socket.on("engine-id", |s, mut ev| {
            let _ = ev.ack(s.conn().sid().to_string());
        });
        socket.on("kick-me", |s, _| s.disconnect());
        socket.on("slow", |_, _| {});
    };
    let s1 = setup.clone();
    io.on_connection(move |s| s1(s));
    let s2 = setup.clone();
    io.of("/admin").on_connection(move |s| s2(s));
    io.of("/private").middleware(|socket| async move {
        let auth = socket.handshake_data().auth;
        if auth.get("token").and_then(Value::as_str) == Some("good") {
            Ok(())
        } else {
            Err(ConnectError::new("not authorized").with_data(serde_json::json!({"code": 42})))
        }
    });
    io.of("/private").on_connection(move |s| setup(s));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (io, port, seen)
}

fn url(port: u16, nsp: &str) -> String {
    format!("http://127.0.0.1:{port}{nsp}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_acks_and_binary_on_every_transport() {
    let (_io, port, _) = server().await;
    for (name, transports) in [
        ("polling", vec![TransportKind::Polling]),
        ("websocket", vec![TransportKind::WebSocket]),
        (
            "upgrade",
            vec![TransportKind::Polling, TransportKind::WebSocket],
        ),
    ] {
        for eio3 in [false, true] {
            let label = format!("{name} eio3={eio3}");
            let rec = Recorder::new();
            let mut b = ClientBuilder::new(&url(port, "/"))
                .transports(&transports)
                .force_new(true)
                .on("bounced", rec.handler("bounced"));
            if eio3 {
                b = b.eio3();
            }
            let socket = b.connect().await.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert!(socket.connected());
            assert!(socket.id().is_some());
            // Ack with several arguments.
            let reply = socket
                .timeout(T)
                .emit_with_ack("echo", args!["a", 1, true])
                .await
                .unwrap();
            assert_eq!(reply, vec![v("\"a\""), v("1"), v("true")], "{label}");
            // Nested binary both ways, typed.
            check_nested_round_trips(&socket, &rec, &Nested::sample(&[]), &label).await;
            // The server asks, the client answers its ack (binary included).
            socket.on("question", answer_question);
            socket.on("answer-was", rec.handler("answer-was"));
            let answer = r#"["answer",{"type":"Buffer","data":[1,2,3]},1]"#;
            check_server_ack(&socket, &rec, answer, &label).await;
            // Heartbeats keep an idle connection (ping 300 ms + 200 ms).
            tokio::time::sleep(Duration::from_millis(1200)).await;
            assert!(socket.connected(), "{label}");
            let reply = socket
                .timeout(T)
                .emit_with_ack("echo", "still")
                .await
                .unwrap();
            assert_eq!(reply, vec![v("\"still\"")]);
            socket.io().close();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_share_one_connection() {
    let (_io, port, _) = server().await;
    check_multiplexing(|nsp| url(port, nsp)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_connect_error() {
    let (_io, port, _) = server().await;
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let socket = ClientBuilder::new(&url(port, "/private"))
        .auth_with(move || {
            let counter = counter.clone();
            async move {
                *counter.lock().unwrap() += 1;
                v(r#"{"token":"good"}"#)
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
    assert_eq!(auth[0], v(r#"{"token":"good"}"#));
    assert_eq!(*calls.lock().unwrap(), 1);
    socket.io().close();

    let rec = Recorder::new();
    let err = ClientBuilder::new(&url(port, "/private"))
        .auth(serde_json::json!({"token": "bad"}))
        .on("connect_error", rec.handler("connect_error"))
        .on("error", rec.handler("error"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::ConnectRefused {
            message: "not authorized".into(),
            data: Some(v(r#"{"code":42}"#)),
        }
    );
    assert!(rec.wait("connect_error", 1, T).await);
    assert_eq!(
        rec.args_of("connect_error")[0][0],
        v(r#"{"message":"not authorized","data":{"code":42}}"#)
    );
    assert!(rec.wait("error", 1, T).await);
    assert_eq!(rec.names(), ["connect_error", "error"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_does_not_reconnect_and_client_can_connect_again() {
    let (_io, port, _) = server().await;
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&url(port, "/"))
        .reconnection_delay(Duration::from_millis(100))
        .on("connect", rec.handler("connect"))
        .on("disconnect", rec.handler("disconnect"))
        .connect()
        .await
        .unwrap();
    assert!(rec.wait("connect", 1, T).await);
    rec.manager(&socket.io(), &["reconnecting"]);
    socket.emit("kick-me", ()).unwrap();
    assert!(rec.wait("disconnect", 1, T).await);
    assert_eq!(
        rec.args_of("disconnect")[0],
        vec![Value::from("io server disconnect")]
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!socket.connected());
    assert_eq!(rec.count("reconnecting"), 0);
    assert_eq!(rec.count("connect"), 1);
    // connect() again by hand.
    socket.connect();
    assert!(rec.wait("connect", 2, T).await);
    // A client-side disconnect: reason, and no reconnection either.
    socket.disconnect();
    assert!(rec.wait("disconnect", 2, T).await);
    assert_eq!(
        rec.args_of("disconnect")[1],
        vec![Value::from("io client disconnect")]
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rec.count("connect"), 2);
    assert!(!socket.connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_buffer_volatile_and_reserved_names() {
    let (_io, port, seen) = server().await;
    let socket = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .build()
        .unwrap();
    // Before the connection: buffered, except volatile.
    socket.emit("record", "one").unwrap();
    socket.volatile().emit("record", "dropped").unwrap();
    socket.emit("record", "two").unwrap();
    assert!(matches!(
        socket.emit("disconnect", ()),
        Err(Error::ReservedEvent(_))
    ));
    let ack = socket.timeout(T).emit_with_ack("echo", "buffered ack");
    assert_eq!(ack.await.unwrap(), vec![Value::from("buffered ack")]);
    socket.volatile().emit("record", "three").unwrap();
    socket.emit_with_ack("echo", "sync").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["one", "two", "three"]);
    socket.io().close();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(socket.emit("record", "closed"), Err(Error::ClientClosed));
    assert_eq!(
        socket.emit_with_ack("echo", 1).await,
        Err(Error::ClientClosed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_timeout_and_slow_handlers() {
    let (_io, port, _) = server().await;
    let socket = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .transports([TransportKind::WebSocket])
        .connect()
        .await
        .unwrap();
    // The server never answers `slow`.
    let err = socket
        .timeout(Duration::from_millis(200))
        .emit_with_ack("slow", ())
        .await
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    // A callback-style ack.
    let (tx, rx) = tokio::sync::oneshot::channel();
    socket
        .timeout(T)
        .emit_with_ack_cb("echo", 5, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
    assert_eq!(rx.await.unwrap().unwrap(), vec![Value::from(5)]);
    socket.io().close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_once_off_any_async_and_ping() {
    let (_io, port, _) = server().await;
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .on_any(rec.handler("any"))
        .on_async("bounced", {
            let rec = rec.clone();
            move |ev| {
                let rec = rec.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    rec.push("async", ev.args);
                }
            }
        })
        .connect()
        .await
        .unwrap();
    rec.manager(&socket.io(), &["ping"]);
    socket.io().once("ping", rec.handler("ping-once"));
    socket.io().on_async("ping", {
        let rec = rec.clone();
        move |ev| {
            let rec = rec.clone();
            async move { rec.push("ping-async", ev.args) }
        }
    });
    socket.once("bounced", rec.handler("once"));
    let plain = socket.on("bounced", rec.handler("plain"));
    socket.on("bounced", rec.handler("plain2"));
    socket.emit("bounce", 1).unwrap();
    assert!(rec.wait("async", 1, T).await);
    socket.off_handler(plain);
    socket.emit("bounce", 2).unwrap();
    assert!(rec.wait("async", 2, T).await);
    assert!(rec.wait("plain2", 2, T).await);
    assert_eq!(rec.count("once"), 1);
    assert_eq!(rec.count("plain"), 1);
    assert_eq!(
        rec.args_of("any"),
        vec![vec![Value::from(1)], vec![Value::from(2)]]
    );
    socket.off("bounced");
    socket.emit("bounce", 3).unwrap();
    assert!(rec.wait("any", 3, T).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rec.count("async"), 2);
    assert_eq!(rec.count("plain2"), 2);
    // The server pings every 300 ms.
    assert!(rec.wait("ping", 2, T).await);
    assert!(rec.wait("ping-async", 2, T).await);
    assert_eq!(rec.count("ping-once"), 1);
    // A handler that panics does not stop the others.
    socket.on("bounced", |_| {
        panic!("handler panic (expected in this test)")
    });
    socket.on("bounced", rec.handler("after-panic"));
    socket.emit("bounce", 4).unwrap();
    assert!(rec.wait("after-panic", 1, T).await);
    socket.io().close();
}

/// Serves a fresh server on `port`; the returned task is the listener.
async fn serve_on(port: u16) -> (SocketIo, tokio::task::JoinHandle<()>) {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .build();
    io.on_connection(|s| {
        s.on("echo", |_, mut ev| {
            let args = ev.take_args();
            let _ = ev.ack(args);
        });
    });
    let end = std::time::Instant::now() + T;
    let listener = loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => break l,
            Err(e) if std::time::Instant::now() > end => panic!("bind {port}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let serving = io.clone();
    let task = tokio::spawn(async move {
        let _ = serving.serve(listener).await;
    });
    (io, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_to_a_restarted_server_with_backoff() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (io, task) = serve_on(port).await;
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .transports([TransportKind::WebSocket])
        .reconnection_delay(Duration::from_millis(100))
        .randomization_factor(0.0)
        .on("connect", rec.handler("connect"))
        .on("disconnect", rec.handler("disconnect"))
        .on("connecting", rec.handler("connecting"))
        .build()
        .unwrap();
    rec.manager(&socket.io(), &["reconnecting", "reconnect"]);
    assert!(rec.wait("connect", 1, T).await);
    // Emits while the server is away wait in the buffer.
    task.abort();
    io.close().await;
    assert!(rec.wait("disconnect", 1, T).await);
    socket.emit("echo", "while away").unwrap();
    assert!(rec.wait("reconnecting", 2, T).await);
    let (_io2, _task2) = serve_on(port).await;
    assert!(rec.wait("connect", 2, T).await);
    let names = rec.names();
    let first_reconnecting = names.iter().position(|n| n == "reconnecting").unwrap();
    assert_eq!(
        names[..first_reconnecting],
        ["connecting", "connect", "disconnect"]
    );
    assert_eq!(
        names[names.len() - 4..],
        ["reconnecting", "connecting", "reconnect", "connect"]
    );
    let t = rec.times_of("reconnecting");
    let gap = t[1].duration_since(t[0]).as_millis();
    assert!((180..400).contains(&gap), "second delay {gap} ms");
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
async fn retries_until_acknowledged() {
    let (_io, port, _) = server().await;
    let socket = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .retries(2)
        .ack_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let reply = socket.emit_with_ack("flaky", "a").await.unwrap();
    assert_eq!(reply, vec![Value::from("ok"), Value::from(2)]);
    // Never acknowledged: 1 + 2 deliveries, then a timeout.
    let started = std::time::Instant::now();
    let err = socket.emit_with_ack("slow", ()).await.unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(580));
    socket.io().close();
}

async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + T;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handles_leaves_and_closes() {
    let (io, port, _) = server().await;
    let main = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .connect()
        .await
        .unwrap();
    let admin = main.io().socket("/admin");
    admin.connect_and_wait().await.unwrap();
    assert!(eventually(|| io.of("/admin").len() == 1 && io.sockets().len() == 1).await);
    // The last handle of /admin: it leaves its namespace, the connection stays.
    drop(admin);
    assert!(eventually(|| io.of("/admin").is_empty()).await);
    assert_eq!(io.sockets().len(), 1);
    assert!(main.connected());
    // A new socket of the namespace on the same manager works.
    let admin = main.io().socket("/admin");
    admin.connect_and_wait().await.unwrap();
    assert!(eventually(|| io.of("/admin").len() == 1).await);
    // The last handles of everything: the connection closes.
    drop(admin);
    drop(main);
    assert!(eventually(|| io.sockets().is_empty() && io.of("/admin").is_empty()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_path() {
    let io = SocketIo::builder().path("/realtime/").build();
    io.on_connection(|s| {
        s.on("echo", |_, mut ev| {
            let args = ev.take_args();
            let _ = ev.ack(args);
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    let socket = ClientBuilder::new(&url(port, "/"))
        .path("/realtime")
        .force_new(true)
        .connect()
        .await
        .unwrap();
    assert_eq!(
        socket.timeout(T).emit_with_ack("echo", "p").await.unwrap(),
        vec![Value::from("p")]
    );
    // The default path is not served there: a 404, typed.
    let err = ClientBuilder::new(&url(port, "/"))
        .force_new(true)
        .reconnection(false)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Closed(sockio_client::engine::CloseReason::TransportError(
                sockio_client::engine::TransportError::Http { status: 404, .. }
            ))
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_and_unicode_payloads() {
    let (_io, port, _) = server().await;
    let big_text: String = "é😀x".repeat(40_000);
    let big_bin = Bytes::from((0..300_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    for transports in [vec![TransportKind::Polling], vec![TransportKind::WebSocket]] {
        for eio3 in [false, true] {
            let mut b = ClientBuilder::new(&url(port, "/"))
                .force_new(true)
                .transports(&transports);
            if eio3 {
                b = b.eio3();
            }
            let socket = b.connect().await.unwrap();
            let label = format!("{transports:?} eio3={eio3}");
            let reply = socket
                .timeout(T)
                .emit_with_ack("echo", args![&big_text, big_bin.clone()])
                .await
                .unwrap();
            assert_eq!(reply[0].as_str(), Some(big_text.as_str()), "{label}");
            assert_eq!(reply[1], Value::Binary(big_bin.clone()), "{label}");
            socket.io().close();
        }
    }
}
