//! Engine.IO options the conformance server does not use, checked over raw HTTP against
//! an in-process engine: `allow_request`, the session cookie, header hooks, the initial
//! packet, transports, upgrades, EIO=3 refusal, CORS policies.

mod support;

use std::time::Duration;

use sockio::engine::cors::{AllowOrigin, Cors};
use sockio::engine::{Cookie, Engine, EngineConfig};
use support::echo_engine::{start, Echo};
use support::ws_frames::{client_text_frame, server_text_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A response read off the wire: status, lower-cased headers, body.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn request(port: u16, method: &str, target: &str, headers: &[(&str, &str)]) -> Raw {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

fn open_sid(body: &str) -> String {
    let start = body.find("\"sid\":\"").unwrap() + 7;
    body[start..start + 20].to_owned()
}

#[tokio::test]
async fn allow_request_refuses_with_403_and_its_message() {
    let config = EngineConfig::builder()
        .allow_request(|req| {
            if req.headers().contains_key("x-token") {
                Ok(())
            } else {
                Err("no token".into())
            }
        })
        .build();
    let (port, _) = start(config).await;
    let res = request(port, "GET", "/engine.io/?EIO=4&transport=polling", &[]).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.text(), r#"{"code":4,"message":"no token"}"#);
    let ok = request(
        port,
        "GET",
        "/engine.io/?EIO=4&transport=polling",
        &[("X-Token", "1")],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.text().starts_with("0{\"sid\":"));
}

#[tokio::test]
async fn cookie_and_header_hooks_on_the_handshake_only() {
    let config = EngineConfig::builder()
        .cookie(Cookie::default())
        .initial_headers(|h, _| {
            h.insert("x-initial", "1".parse().unwrap());
        })
        .headers(|h, _| {
            h.insert("x-every", "1".parse().unwrap());
        })
        .initial_packet("hello")
        .build();
    let (port, _) = start(config).await;
    let hs = request(port, "GET", "/engine.io/?EIO=4&transport=polling", &[]).await;
    let sid = open_sid(&hs.text());
    assert_eq!(
        hs.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    assert_eq!(hs.header("x-initial"), Some("1"));
    assert_eq!(hs.header("x-every"), Some("1"));
    let poll = request(
        port,
        "GET",
        &format!("/engine.io/?EIO=4&transport=polling&sid={sid}"),
        &[],
    )
    .await;
    assert_eq!(
        poll.text(),
        "4hello",
        "the initial packet follows the open packet"
    );
    assert_eq!(poll.header("set-cookie"), None);
    assert_eq!(poll.header("x-initial"), None);
    assert_eq!(poll.header("x-every"), Some("1"));
}

#[tokio::test]
async fn websocket_only_server_refuses_polling_and_offers_no_upgrade() {
    let (port, _) = start(
        EngineConfig::builder()
            .transports([sockio::engine::TransportKind::WebSocket])
            .build(),
    )
    .await;
    let res = request(port, "GET", "/engine.io/?EIO=4&transport=polling", &[]).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.text(), r#"{"code":0,"message":"Transport unknown"}"#);
}

#[tokio::test]
async fn upgrades_can_be_disabled() {
    let (port, _) = start(EngineConfig::builder().allow_upgrades(false).build()).await;
    let hs = request(port, "GET", "/engine.io/?EIO=4&transport=polling", &[]).await;
    assert!(hs.text().contains("\"upgrades\":[]"), "{}", hs.text());
}

#[tokio::test]
async fn eio3_refused_unless_allowed() {
    let (port, _) = start(EngineConfig::default()).await;
    let res = request(port, "GET", "/engine.io/?EIO=3&transport=polling", &[]).await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.text(),
        r#"{"code":5,"message":"Unsupported protocol version"}"#
    );
}

#[tokio::test]
async fn cors_exact_origin_with_credentials_and_preflight() {
    let cors = Cors::new(AllowOrigin::Exact("http://app.example".into())).credentials(true);
    let (port, _) = start(EngineConfig::builder().cors(cors).build()).await;
    let res = request(
        port,
        "GET",
        "/engine.io/?EIO=4&transport=polling",
        &[("Origin", "http://other.example")],
    )
    .await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(res.header("vary"), Some("Origin"));
    let pre = request(
        port,
        "OPTIONS",
        "/engine.io/?EIO=4&transport=polling",
        &[
            ("Origin", "http://app.example"),
            ("Access-Control-Request-Headers", "x-a"),
        ],
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-headers"), Some("x-a"));
    assert_eq!(
        pre.header("access-control-allow-methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE")
    );
}

#[tokio::test]
async fn no_cors_headers_without_a_policy() {
    let (port, _) = start(EngineConfig::default()).await;
    let res = request(
        port,
        "GET",
        "/engine.io/?EIO=4&transport=polling",
        &[("Origin", "http://a.example")],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_handshake_keeps_headers_and_url() {
    let (port, engine) = start(EngineConfig::default()).await;
    request(
        port,
        "GET",
        "/engine.io/?EIO=4&transport=polling&room=a%20b",
        &[("X-Custom", "hello"), ("User-Agent", "test-agent/1")],
    )
    .await;
    let socket = engine.sockets().pop().expect("one session");
    let hs = socket.handshake();
    let header = |name: &str| hs.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("x-custom"), Some("hello"));
    assert_eq!(header("user-agent"), Some("test-agent/1"));
    assert_eq!(hs.uri.path(), "/engine.io/");
    assert_eq!(hs.query_string(), "EIO=4&transport=polling&room=a%20b");
    assert_eq!(hs.query_param("room").as_deref(), Some("a b"));
}

#[tokio::test]
async fn sessions_are_listed_and_closed_by_the_server() {
    let (port, engine) = start(EngineConfig::default()).await;
    let hs = request(port, "GET", "/engine.io/?EIO=4&transport=polling", &[]).await;
    let sid = open_sid(&hs.text());
    assert_eq!(engine.session_count(), 1);
    let socket = engine.sockets().pop().unwrap();
    assert_eq!(socket.sid().as_str(), sid);
    assert_eq!(socket.handshake().query_param("EIO").as_deref(), Some("4"));
    assert!(socket.handshake().remote_addr.is_some());
    socket.close();
    assert_eq!(engine.session_count(), 0);
    // As engine.io: the close packet goes to the next poll, then the session is gone.
    let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(request(port, "GET", &poll, &[]).await.text(), "1");
    let res = request(port, "GET", &poll, &[]).await;
    assert_eq!(res.text(), r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test]
async fn websocket_heads_in_pieces_and_frames_sent_with_the_head() {
    // `Engine::serve` reads a WebSocket connection's request head itself: a head that
    // arrives in pieces, and a frame the client sent in the same write as the head's
    // end, must both come through.
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
                Upgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let (first, rest) = head.split_at(40);
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut rest = rest.as_bytes().to_vec();
    rest.extend(client_text_frame("4hello"));
    stream.write_all(&rest).await.unwrap();

    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        response.push(byte[0]);
    }
    let response = String::from_utf8(response).unwrap().to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 101 "), "{response}");
    assert!(
        response.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{response}"
    );
    let open = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut stream))
        .await
        .unwrap();
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    let echo = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut stream))
        .await
        .unwrap();
    assert_eq!(echo, "4hello");
}

#[tokio::test]
async fn the_same_listener_answers_other_paths_and_refused_upgrades() {
    let (port, _engine) = start(EngineConfig::default()).await;
    // Not the engine's path: hyper answers, after the bytes read to sort the request.
    assert_eq!(request(port, "GET", "/elsewhere", &[]).await.status, 404);
    // A refused WebSocket upgrade: 400 with the message, connection closed.
    let refused = request(
        port,
        "GET",
        "/engine.io/?EIO=4&transport=websocket&sid=unknown",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("connection"), Some("close"));
    assert_eq!(refused.text(), "Session ID unknown");
}

#[tokio::test]
async fn any_service_can_be_served_through_hyper_alone() {
    // `sockio::engine::serve` (no direct WebSocket path): polling and WebSocket both work.
    let engine = Engine::new(EngineConfig::default(), Echo);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(sockio::engine::serve(listener, engine.service()));
    let open = request(port, "GET", "/engine.io/?EIO=4&transport=polling", &[]).await;
    assert_eq!(open.status, 200);
    assert!(open.text().starts_with("0{\"sid\":"), "{}", open.text());

    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
                Upgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101 "));
    let open = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut stream))
        .await
        .unwrap();
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    stream
        .write_all(&client_text_frame("4ping me"))
        .await
        .unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut stream))
        .await
        .unwrap();
    assert_eq!(echo, "4ping me");
}

/// Opens a WebSocket on `port` with `query`: the response head, and the stream.
async fn websocket(port: u16, query: &str) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "GET /engine.io/?{query} HTTP/1.1\r\nHost: x\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        response.push(byte[0]);
    }
    (String::from_utf8(response).unwrap(), stream)
}

/// A second WebSocket for a session already on WebSocket is accepted (`101`), then
/// closed before any frame, as engine.io does; the first goes on.
async fn second_websocket_is_accepted_then_closed(port: u16, eio: u8) {
    let (head, mut first) = websocket(port, &format!("EIO={eio}&transport=websocket")).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let open = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut first))
        .await
        .unwrap();
    let sid = open_sid(&open[1..]);

    let query = format!("EIO={eio}&transport=websocket&sid={sid}");
    let (head, mut second) = websocket(port, &query).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "EIO={eio}: {head}");
    second
        .write_all(&client_text_frame("2probe"))
        .await
        .unwrap();
    let mut frame = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), second.read_exact(&mut frame))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        frame[0], 0x88,
        "EIO={eio}: a close frame, and nothing before it"
    );

    first.write_all(&client_text_frame("4still")).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut first))
        .await
        .unwrap();
    assert_eq!(echo, "4still");
}

#[tokio::test]
async fn a_second_websocket_for_a_session_is_accepted_then_closed() {
    let config = EngineConfig::builder().allow_eio3(true).build();
    // The direct path (`Engine::serve`)…
    let (port, _engine) = start(config.clone()).await;
    second_websocket_is_accepted_then_closed(port, 4).await;
    second_websocket_is_accepted_then_closed(port, 3).await;
    // …and hyper's (`sockio::engine::serve`).
    let engine = Engine::new(config, Echo);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(sockio::engine::serve(listener, engine.service()));
    second_websocket_is_accepted_then_closed(port, 4).await;
    second_websocket_is_accepted_then_closed(port, 3).await;
}

/// A request head past 16 KiB (Node's `maxHeaderSize`) is answered 431 once that much is
/// read, on the direct WebSocket path and on hyper's, not read to its end.
#[tokio::test]
async fn oversized_request_heads_are_refused_at_16_kib() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (port, _engine) = start(EngineConfig::default()).await;
    for path in [
        "/engine.io/?EIO=4&transport=websocket",
        "/engine.io/?EIO=4&transport=polling",
    ] {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        );
        // 500 KB of headers, sent while the server may already answer.
        let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
        let writer = tokio::spawn(async move {
            let mut sent = 0;
            for _ in 0..500 {
                head.push_str(&filler);
                if tcp.write_all(head.as_bytes()).await.is_err() {
                    break;
                }
                sent += head.len();
                head.clear();
            }
            (tcp, sent)
        });
        let (mut tcp, sent) = writer.await.unwrap();
        assert!(
            sent < 500 * 1000,
            "the server kept reading {sent} bytes of head"
        );
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{path}: {}",
            answer.lines().next().unwrap_or("")
        );
    }
}

/// Past `max_sessions`, handshakes are refused with 503 and the Engine.IO error body —
/// on polling and on a direct WebSocket — and accepted again once a session ends.
#[tokio::test]
async fn handshakes_past_max_sessions_are_refused_with_503() {
    let (port, engine) = start(EngineConfig::builder().max_sessions(2).build()).await;
    let polling = "/engine.io/?EIO=4&transport=polling";
    assert_eq!(request(port, "GET", polling, &[]).await.status, 200);
    let (_sid, _ws) = websocket(port, "EIO=4&transport=websocket").await;
    let full = request(port, "GET", polling, &[]).await;
    assert_eq!(full.status, 503);
    assert_eq!(full.text(), r#"{"code":3,"message":"Server full"}"#);
    let ws_full = request(
        port,
        "GET",
        "/engine.io/?EIO=4&transport=websocket",
        &[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    )
    .await;
    assert_eq!(ws_full.status, 503);
    // sessions gone: room again
    engine.close_all(sockio::engine::CloseReason::ForcedClose);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(request(port, "GET", polling, &[]).await.status, 200);
}

/// Sends one request on a keep-alive connection and reads its response's body
/// (`Content-Length` framed).
async fn keep_alive_request(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    body: &str,
) -> String {
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .expect("content-length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.unwrap();
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn an_upgraded_session_closes_its_idle_polling_connections() {
    // A browser keeps its polling connections open (keep-alive) after the upgrade; they
    // would sit idle, holding their buffers, until the header-read timeout (10 s).
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut get = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut post = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let open = keep_alive_request(&mut get, "GET", "/engine.io/?EIO=4&transport=polling", "").await;
    let sid = open_sid(&open);
    let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        keep_alive_request(&mut post, "POST", &poll, "4hello").await,
        "ok"
    );
    assert_eq!(
        keep_alive_request(&mut get, "GET", &poll, "").await,
        "4hello"
    );

    let (head, mut ws) = websocket(port, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    ws.write_all(&client_text_frame("2probe")).await.unwrap();
    let probe = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut ws))
        .await
        .unwrap();
    assert_eq!(probe, "3probe");
    ws.write_all(&client_text_frame("5")).await.unwrap();

    for (name, conn) in [("GET", &mut get), ("POST", &mut post)] {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut byte))
            .await
            .unwrap_or_else(|_| panic!("the {name} connection is still open"));
        assert_eq!(read.unwrap(), 0, "the {name} connection is closed");
    }
    // The session goes on over WebSocket.
    ws.write_all(&client_text_frame("4on ws")).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), server_text_frame(&mut ws))
        .await
        .unwrap();
    assert_eq!(echo, "4on ws");
}
