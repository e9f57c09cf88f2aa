//! Bad server input: a tiny raw HTTP server in the test answers garbage, errors, wrong
//! handshakes, or nothing. The client must report typed errors and the right events —
//! never panic, never hang.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Recorder;
use sockio_client::engine::{CloseReason, TransportError};
use sockio_client::{ClientBuilder, Error, TransportKind, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);

/// One request as the raw server saw it.
struct Req {
    method: String,
}

/// How to answer a request.
enum Reply {
    /// An HTTP response with this status and body.
    Http(u16, Vec<u8>),
    /// These bytes, then close the connection.
    Raw(Vec<u8>),
    /// Never answer.
    Hang,
    /// An HTTP response, then the connection closes (without `connection: close`, as
    /// when a keep-alive timeout strikes).
    HttpThenClose(u16, Vec<u8>),
    /// Another reply after a pause.
    Later(Duration, Box<Reply>),
}

type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

/// Serves `handler` on 127.0.0.1 (any free port); keep-alive connections.
async fn raw_server(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> u16 {
    let handler: Handler = Arc::new(handler);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, handler.clone()));
        }
    });
    port
}

async fn connection(mut stream: TcpStream, handler: Handler) {
    let mut buf = Vec::new();
    loop {
        // Read a request head and its body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.lines();
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        let mut reply = handler(&Req { method });
        while let Reply::Later(pause, next) = reply {
            tokio::time::sleep(pause).await;
            reply = *next;
        }
        match reply {
            Reply::Later(..) => return,
            Reply::HttpThenClose(status, body) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: text/plain; charset=UTF-8\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                return;
            }
            Reply::Http(status, body) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: text/plain; charset=UTF-8\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(&body).await.is_err()
                {
                    return;
                }
            }
            Reply::Raw(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Reply::Hang => {
                std::future::pending::<()>().await;
            }
        }
    }
}

const OPEN: &str =
    r#"0{"sid":"abc","upgrades":[],"pingInterval":200,"pingTimeout":100,"maxPayload":1000000}"#;

/// A server that completes the handshake and the `/` connection, then answers the
/// following GETs with `after` (by its number, from 0).
async fn server_then(after: impl Fn(usize) -> Reply + Send + Sync + 'static) -> u16 {
    let gets = AtomicUsize::new(0);
    raw_server(move |req| {
        if req.method == "POST" {
            return Reply::Http(200, b"ok".to_vec());
        }
        match gets.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::Http(200, OPEN.as_bytes().to_vec()),
            1 => Reply::Http(200, br#"40{"sid":"s1"}"#.to_vec()),
            n => after(n - 2),
        }
    })
    .await
}

async fn connect_err(url: &str) -> Error {
    let started = Instant::now();
    let r = tokio::time::timeout(
        T,
        ClientBuilder::new(url)
            .force_new(true)
            .reconnection(false)
            .timeout(Duration::from_millis(500))
            .connect(),
    )
    .await
    .expect("connect() must not hang");
    let err = r.expect_err("connect() must fail");
    assert!(started.elapsed() < Duration::from_secs(3));
    err
}

#[tokio::test]
async fn garbage_instead_of_http() {
    let port = raw_server(|_| Reply::Raw(b"SSH-2.0-OpenSSH\r\n\r\n\x00\xff".to_vec())).await;
    let err = connect_err(&format!("http://127.0.0.1:{port}/")).await;
    assert!(
        matches!(
            err,
            Error::Closed(CloseReason::TransportError(TransportError::Io(_)))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_errors() {
    let port = raw_server(|_| Reply::Http(500, b"oops".to_vec())).await;
    let err = connect_err(&format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(
        err,
        Error::Closed(CloseReason::TransportError(TransportError::Http {
            status: 500,
            body: "oops".into()
        }))
    );
    // The WebSocket handshake refused.
    let port = raw_server(|_| Reply::Http(400, b"no".to_vec())).await;
    let r = tokio::time::timeout(
        T,
        ClientBuilder::new(&format!("ws://127.0.0.1:{port}/"))
            .transports([TransportKind::WebSocket])
            .reconnection(false)
            .connect(),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            r,
            Err(Error::Closed(CloseReason::TransportError(
                TransportError::Http { status: 400, .. }
            )))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn wrong_handshakes() {
    for body in [r#"0{"nope":1}"#, "0", "4hello", "\u{1}binary?", ""] {
        let port = raw_server(move |_| Reply::Http(200, body.as_bytes().to_vec())).await;
        let err = connect_err(&format!("http://127.0.0.1:{port}/")).await;
        assert!(
            matches!(
                err,
                Error::Closed(CloseReason::Handshake(_) | CloseReason::ParseError(_))
            ),
            "{body:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn connect_timeout_and_tls_errors() {
    let port = raw_server(|_| Reply::Hang).await;
    let started = Instant::now();
    let err = connect_err(&format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(
        err,
        Error::Closed(CloseReason::TransportError(TransportError::Timeout))
    );
    assert!(started.elapsed() >= Duration::from_millis(450));
    // https to a server that does not speak TLS (it talks first, in plain HTTP).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let err = connect_err(&format!("https://127.0.0.1:{port}/")).await;
    assert!(
        matches!(
            err,
            Error::Closed(CloseReason::TransportError(TransportError::Tls(_)))
        ),
        "{err:?}"
    );
    // Auth that has no JSON form.
    let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert!(matches!(
        ClientBuilder::new("http://127.0.0.1:1/").auth(bad).build(),
        Err(Error::Serialize(_))
    ));
    // Not a URL we take.
    assert!(matches!(
        ClientBuilder::new("ftp://x/").build(),
        Err(Error::InvalidUrl(_))
    ));
    assert!(matches!(
        ClientBuilder::new("http://:3/").build(),
        Err(Error::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn server_that_stops_answering_is_a_ping_timeout() {
    let port = server_then(|_| Reply::Hang).await;
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&format!("http://127.0.0.1:{port}/"))
        .reconnection(false)
        .on("disconnect", rec.handler("disconnect"))
        .connect()
        .await
        .unwrap();
    assert_eq!(socket.id().as_deref(), Some("s1"));
    let started = Instant::now();
    assert!(rec.wait("disconnect", 1, T).await);
    // pingInterval 200 + pingTimeout 100.
    assert!(started.elapsed() < Duration::from_millis(1000));
    assert_eq!(
        rec.args_of("disconnect")[0],
        vec![Value::from("ping timeout")]
    );
    assert!(!socket.connected());
}

#[tokio::test]
async fn garbage_after_the_handshake() {
    // Engine.IO garbage, Socket.IO garbage, a binary attachment nobody announced, a
    // handshake in the middle of the session, HTTP errors.
    let cases: [(&[u8], &str); 6] = [
        (b"9what", "parse error"),
        (b"4zzz", "parse error"),
        (br#"42["a"#, "parse error"),
        (b"bAQID", "parse error"),
        (OPEN.as_bytes(), "parse error"),
        (b"", "parse error"),
    ];
    for (body, reason) in cases {
        let owned = body.to_vec();
        let port = server_then(move |n| {
            if n == 0 {
                Reply::Http(200, owned.clone())
            } else {
                Reply::Hang
            }
        })
        .await;
        let rec = Recorder::new();
        let socket = ClientBuilder::new(&format!("http://127.0.0.1:{port}/"))
            .reconnection(false)
            .on("disconnect", rec.handler("disconnect"))
            .on("error", rec.handler("error"))
            .connect()
            .await
            .unwrap();
        assert!(rec.wait("disconnect", 1, T).await, "{body:?}");
        assert_eq!(rec.names(), ["error", "disconnect"], "{body:?}");
        assert_eq!(
            rec.args_of("disconnect")[0],
            vec![Value::from(reason)],
            "{body:?}"
        );
        assert!(!socket.connected());
    }
    // An HTTP error on a later poll is a transport error.
    let port = server_then(|_| Reply::Http(400, b"{}".to_vec())).await;
    let rec = Recorder::new();
    let _socket = ClientBuilder::new(&format!("http://127.0.0.1:{port}/"))
        .reconnection(false)
        .on("disconnect", rec.handler("disconnect"))
        .connect()
        .await
        .unwrap();
    assert!(rec.wait("disconnect", 1, T).await);
    assert_eq!(
        rec.args_of("disconnect")[0],
        vec![Value::from("transport error")]
    );
}

#[tokio::test]
async fn random_bytes_never_panic_or_hang() {
    // A fixed pseudo-random sequence: every body must end in an error or a disconnect.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let len = (round * 7) % 40;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xff) as u8
            })
            .collect();
        let port = server_then(move |n| {
            if n == 0 {
                Reply::Http(200, body.clone())
            } else {
                Reply::Hang
            }
        })
        .await;
        let rec = Recorder::new();
        let r = tokio::time::timeout(
            T,
            ClientBuilder::new(&format!("http://127.0.0.1:{port}/"))
                .reconnection(false)
                .on("disconnect", rec.handler("disconnect"))
                .connect(),
        )
        .await
        .expect("no hang");
        if let Ok(socket) = r {
            // Garbage or not, the silent server ends it within the heartbeat.
            assert!(rec.wait("disconnect", 1, T).await, "round {round}");
            assert!(!socket.connected());
        }
    }
}

#[tokio::test]
async fn connections_closed_after_every_response() {
    // Every response closes its connection: pooled connections are found closed and
    // replaced; heartbeats (a ping per poll, 200 ms + 100 ms) keep the session.
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let gets = AtomicUsize::new(0);
    let port = raw_server(move |req| {
        if req.method == "POST" {
            counted.fetch_add(1, Ordering::SeqCst);
            return Reply::HttpThenClose(200, b"ok".to_vec());
        }
        match gets.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::HttpThenClose(200, OPEN.as_bytes().to_vec()),
            1 => Reply::HttpThenClose(200, br#"40{"sid":"s1"}"#.to_vec()),
            _ => Reply::Later(
                Duration::from_millis(50),
                Box::new(Reply::HttpThenClose(200, b"2".to_vec())),
            ),
        }
    })
    .await;
    let rec = Recorder::new();
    let socket = ClientBuilder::new(&format!("http://127.0.0.1:{port}/"))
        .reconnection(false)
        .on("disconnect", rec.handler("disconnect"))
        .connect()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(socket.connected());
    assert_eq!(rec.count("disconnect"), 0);
    // The pongs went out: a POST per ping, each on its own connection.
    assert!(posts.load(Ordering::SeqCst) >= 10);
}
