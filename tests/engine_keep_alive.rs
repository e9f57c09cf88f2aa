//! Long-polling over keep-alive HTTP/1.1 connections, as `Engine::serve` answers it (the
//! engine's own HTTP/1.1 loop, hyper for what that loop hands over), checked over raw
//! TCP: several requests on one connection, pipelined requests, the hand-over to hyper
//! in the middle of a connection, oversized heads and bodies, the idle timeout, HTTP/1.0
//! and `Connection: close`, a WebSocket upgrade on a connection that polled, shutdown.

mod support;

use std::time::Duration;

use sockio::engine::{CloseReason, EngineConfig};
use support::echo_engine::start;
use support::ws_frames::{client_text_frame, server_text_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

/// A request's bytes: `Content-Length` when there is a body.
fn request(method: &str, target: &str, body: &str) -> String {
    let length = if body.is_empty() && method == "GET" {
        String::new()
    } else {
        format!(
            "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
            body.len()
        )
    };
    format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{length}\r\n{body}")
}

/// A response read off the wire: status, lower-cased head, body.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn closes(&self) -> bool {
        self.head.contains("\r\nconnection: close\r\n")
    }
}

/// A response's head, read byte by byte (nothing after it is read).
async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("a response");
        head.push(byte[0]);
    }
    head
}

async fn response(stream: &mut TcpStream) -> Raw {
    tokio::time::timeout(WAIT, async {
        let head = read_head(stream).await;
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.unwrap();
        Raw {
            status,
            head,
            body: String::from_utf8(body).unwrap(),
        }
    })
    .await
    .expect("a response in time")
}

async fn exchange(stream: &mut TcpStream, method: &str, target: &str, body: &str) -> Raw {
    stream
        .write_all(request(method, target, body).as_bytes())
        .await
        .unwrap();
    response(stream).await
}

/// Opens a polling session on `stream`: its sid.
async fn handshake(stream: &mut TcpStream) -> String {
    let open = exchange(stream, "GET", "/engine.io/?EIO=4&transport=polling", "").await;
    assert_eq!(open.status, 200, "{}", open.head);
    let at = open.body.find("\"sid\":\"").unwrap() + 7;
    let len = open.body[at..].find('"').unwrap();
    open.body[at..at + len].to_string()
}

fn poll_target(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

/// Whether the server closes `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn several_requests_on_one_connection() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let target = poll_target(&sid);
    for i in 0..5 {
        let post = exchange(&mut conn, "POST", &target, &format!("4message {i}")).await;
        assert_eq!((post.status, post.body.as_str()), (200, "ok"));
        assert!(!post.closes(), "{}", post.head);
        assert!(post.head.contains("\r\ndate: "), "{}", post.head);
        let get = exchange(&mut conn, "GET", &target, "").await;
        assert_eq!(get.status, 200);
        assert_eq!(get.body, format!("4message {i}"));
        assert!(get.head.contains("content-type: text/plain; charset=utf-8"));
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let target = poll_target(&sid);
    // A POST and the GET that reads its echo, in one write, in two pieces the second
    // time (the first piece ends inside the POST's body: hyper takes the connection over,
    // the POST begun as soon as its head came, as in engine.io).
    let both = request("POST", &target, "4one") + &request("GET", &target, "");
    conn.write_all(both.as_bytes()).await.unwrap();
    assert_eq!(response(&mut conn).await.body, "ok");
    assert_eq!(response(&mut conn).await.body, "4one");
    let both = request("POST", &target, "4two") + &request("GET", &target, "");
    let cut = both.find("4two").unwrap() + 2;
    conn.write_all(&both.as_bytes()[..cut]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.write_all(&both.as_bytes()[cut..]).await.unwrap();
    assert_eq!(response(&mut conn).await.body, "ok");
    assert_eq!(response(&mut conn).await.body, "4two");
}

#[tokio::test]
async fn other_requests_hand_the_connection_to_hyper() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let target = poll_target(&sid);
    // Another path (hyper answers 404), then a chunked POST and a GET of the session on
    // the same connection, now hyper's.
    let other = exchange(&mut conn, "GET", "/elsewhere", "").await;
    assert_eq!(other.status, 404, "{}", other.head);
    let chunked = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         4\r\n4chu\r\n3\r\nnks\r\n0\r\n\r\n"
    );
    conn.write_all(chunked.as_bytes()).await.unwrap();
    assert_eq!(response(&mut conn).await.body, "ok");
    assert_eq!(
        exchange(&mut conn, "GET", &target, "").await.body,
        "4chunks"
    );

    // A chunked POST in the middle of a connection served by the engine's loop.
    let mut conn = connect(port).await;
    conn.write_all(chunked.replace("4chu", "4CHU").as_bytes())
        .await
        .unwrap();
    assert_eq!(response(&mut conn).await.body, "ok");
    assert_eq!(
        exchange(&mut conn, "GET", &target, "").await.body,
        "4CHUnks"
    );
}

#[tokio::test]
async fn a_head_too_large_is_refused_with_431() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let big = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        poll_target(&sid),
        "a".repeat(20 * 1024)
    );
    // The server may stop reading (and reset) before all of it is written.
    let _ = conn.write_all(big.as_bytes()).await;
    let answer = response(&mut conn).await;
    assert_eq!(answer.status, 431, "{}", answer.head);
}

#[tokio::test]
async fn a_body_over_max_payload_is_refused_with_413() {
    let (port, _engine) = start(EngineConfig::builder().max_payload(100).build()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let target = poll_target(&sid);
    let fits = format!("4{}", "a".repeat(99));
    assert_eq!(exchange(&mut conn, "POST", &target, &fits).await.body, "ok");
    assert_eq!(exchange(&mut conn, "GET", &target, "").await.body, fits);
    let over = format!("4{}", "a".repeat(100));
    let _ = conn
        .write_all(request("POST", &target, &over).as_bytes())
        .await;
    assert_eq!(response(&mut conn).await.status, 413);
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    assert_eq!(
        exchange(&mut conn, "POST", &poll_target(&sid), "4x")
            .await
            .body,
        "ok"
    );
    // 10 s without a request (hyper's header_read_timeout on other connections).
    assert!(closed_within(&mut conn, Duration::from_secs(15)).await);
}

#[tokio::test]
async fn connection_close_and_http_1_0_end_the_connection() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let target = poll_target(&sid);
    let close = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n4a"
    );
    conn.write_all(close.as_bytes()).await.unwrap();
    let answer = response(&mut conn).await;
    assert_eq!(answer.body, "ok");
    assert!(answer.closes(), "{}", answer.head);
    assert!(closed_within(&mut conn, WAIT).await);

    let mut conn = connect(port).await;
    conn.write_all(format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answer = response(&mut conn).await;
    assert_eq!(answer.body, "4a");
    assert!(answer.closes(), "{}", answer.head);
    assert!(closed_within(&mut conn, WAIT).await);

    // HTTP/1.0 with keep-alive asked for stays open.
    let mut conn = connect(port).await;
    let keep =
        format!("POST {target} HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n4b");
    conn.write_all(keep.as_bytes()).await.unwrap();
    let answer = response(&mut conn).await;
    assert!(
        answer.head.contains("\r\nconnection: keep-alive\r\n"),
        "{}",
        answer.head
    );
    assert_eq!(exchange(&mut conn, "GET", &target, "").await.body, "4b");
}

#[tokio::test]
async fn a_client_that_leaves_during_a_poll_closes_its_session() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let target = poll_target(&sid);
    conn.write_all(request("GET", &target, "").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(conn);
    // As engine.io: the session is gone once its pending poll's connection closed.
    let mut other = connect(port).await;
    let mut refused = false;
    for _ in 0..50 {
        if exchange(&mut other, "POST", &target, "4late").await.status == 400 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the session outlived its poll's connection");
}

#[tokio::test]
async fn a_connection_that_polled_can_upgrade_to_websocket() {
    let (port, _engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    let upgrade = format!(
        "GET /engine.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    // The probe comes with the head, in the same write.
    let mut bytes = upgrade.into_bytes();
    bytes.extend_from_slice(&client_text_frame("2probe"));
    conn.write_all(&bytes).await.unwrap();
    let answer = response(&mut conn).await;
    assert_eq!(answer.status, 101, "{}", answer.head);
    let probe = tokio::time::timeout(WAIT, server_text_frame(&mut conn)).await;
    assert_eq!(probe.unwrap(), "3probe");
    conn.write_all(&client_text_frame("5")).await.unwrap();
    conn.write_all(&client_text_frame("4on ws")).await.unwrap();
    let echo = tokio::time::timeout(WAIT, server_text_frame(&mut conn)).await;
    assert_eq!(echo.unwrap(), "4on ws");
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections() {
    let (port, engine) = start(EngineConfig::default()).await;
    let mut conn = connect(port).await;
    let sid = handshake(&mut conn).await;
    assert_eq!(
        exchange(&mut conn, "POST", &poll_target(&sid), "4x")
            .await
            .body,
        "ok"
    );
    assert!(engine.shutdown(CloseReason::ServerShuttingDown, WAIT).await);
    assert!(closed_within(&mut conn, WAIT).await);
}

/// `builder`'s configuration, with a `headers` hook that adds nothing when `general`: an
/// engine with a hook answers every request the general way (an `http::Request` built
/// and routed), one without answers a session's plain polling requests on its own path.
fn on_path(builder: sockio::engine::EngineConfigBuilder, general: bool) -> EngineConfig {
    match general {
        true => builder.headers(|_, _| {}),
        false => builder,
    }
    .build()
}

/// A request's bytes as a client variant sends them: its HTTP version and extra headers.
fn request_with(method: &str, target: &str, version: &str, extra: &str, body: &str) -> String {
    let length = if method == "POST" {
        format!("Content-Length: {}\r\n", body.len())
    } else {
        String::new()
    };
    format!("{method} {target} HTTP/{version}\r\nHost: x\r\n{extra}{length}\r\n{body}")
}

/// The next response on `stream` exactly as written, its `date` value blanked (it
/// changes) — head and body.
async fn raw_response(stream: &mut TcpStream) -> Vec<u8> {
    tokio::time::timeout(WAIT, async {
        let mut head = read_head(stream).await;
        let text = String::from_utf8(head.clone()).unwrap();
        let len: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.unwrap();
        let at = text.find("\r\ndate: ").expect("a date") + 8;
        head[at..at + 29].fill(b'D');
        head.extend_from_slice(&body);
        head
    })
    .await
    .expect("a response in time")
}

/// Polling requests of a session are answered by the engine's own loop without building
/// an `http::Request` (unless a `headers` hook needs one): the same bytes, header for
/// header, as the general path gives — checked against an engine whose no-op `headers`
/// hook sends every request the general way, for plain requests, CORS, Internet
/// Explorer, gzip, HTTP/1.0 keep-alive, a refused binary POST, and an unknown sid.
#[tokio::test]
async fn polling_answers_are_the_same_bytes_on_both_paths() {
    use sockio::engine::cors::{AllowOrigin, Cors};
    let config = |hooked: bool| {
        let mut cors = Cors::new(AllowOrigin::List(vec!["http://ok".into()])).credentials(true);
        cors.exposed_headers = Some("x-one, x-two".into());
        let builder = EngineConfig::builder()
            .cors(cors)
            .http_compression(Some(64));
        on_path(builder, hooked)
    };
    let (fast_port, _fast) = start(config(false)).await;
    let (general_port, _general) = start(config(true)).await;
    let big = format!("4{}", "compressible ".repeat(20));
    let variants: [(&str, &str, &str); 6] = [
        ("1.1", "", "4plain"),
        ("1.1", "Origin: http://ok\r\n", "4allowed origin"),
        ("1.1", "Origin: http://evil\r\n", "4other origin"),
        (
            "1.1",
            "User-Agent: Mozilla/5.0 (compatible; MSIE 10.0; Trident/6.0)\r\n",
            "4ie",
        ),
        ("1.1", "Accept-Encoding: br, gzip;q=0.5\r\n", &big),
        ("1.0", "Connection: keep-alive\r\nAccept: */*\r\n", "4old"),
    ];
    for (version, extra, message) in variants {
        let mut answers = Vec::new();
        for port in [fast_port, general_port] {
            let mut conn = connect(port).await;
            let sid = handshake(&mut conn).await;
            let target = poll_target(&sid);
            let mut got = Vec::new();
            for (method, body) in [("POST", message), ("GET", "")] {
                let req = request_with(method, &target, version, extra, body);
                conn.write_all(req.as_bytes()).await.unwrap();
                got.push(raw_response(&mut conn).await);
            }
            // A binary POST on EIO 4 is refused (400), and the session closed.
            let binary = format!("{extra}Content-Type: application/octet-stream\r\n");
            let req = request_with("POST", &target, version, &binary, "4x");
            conn.write_all(req.as_bytes()).await.unwrap();
            got.push(raw_response(&mut conn).await);
            // Now an unknown sid: answered the general way on both.
            let req = request_with("GET", &target, version, extra, "");
            conn.write_all(req.as_bytes()).await.unwrap();
            got.push(raw_response(&mut conn).await);
            answers.push(got);
        }
        let text = |a: &[Vec<u8>]| {
            a.iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(text(&answers[0]), text(&answers[1]), "{version} {extra:?}");
        let first = String::from_utf8_lossy(&answers[0][1]).into_owned();
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
        if message == big {
            assert!(first.contains("\r\ncontent-encoding: gzip\r\n"), "{first}");
        }
        if extra.contains("MSIE") {
            assert!(first.contains("\r\nx-xss-protection: 0\r\n"), "{first}");
        }
        if extra.contains("http://ok") {
            assert!(first.contains("access-control-allow-origin: http://ok\r\n"));
        }
    }
}

/// A connection whose first request for a session is one the session is not told of (a
/// CORS preflight, or a refused request, carrying its sid) still has its later polling
/// requests for that session tell it of the connection: once the session upgrades, the
/// connection, now idle, is closed — on the engine's own path and on the general one.
#[tokio::test]
async fn a_preflight_or_refusal_first_does_not_keep_the_session_from_knowing_the_connection() {
    use sockio::engine::cors::{AllowOrigin, Cors};
    for hooked in [false, true] {
        for first in ["OPTIONS", "refused"] {
            let builder = EngineConfig::builder().cors(Cors::new(AllowOrigin::Any));
            let (port, _engine) = start(on_path(builder, hooked)).await;
            let mut conn = connect(port).await;
            let sid = handshake(&mut conn).await;
            let answer = match first {
                "OPTIONS" => exchange(&mut conn, "OPTIONS", &poll_target(&sid), "").await,
                // A protocol mismatch: refused (400), the session not told of anything.
                _ => {
                    let target = format!("/engine.io/?EIO=3&transport=polling&sid={sid}");
                    exchange(&mut conn, "GET", &target, "").await
                }
            };
            assert!(matches!(answer.status, 204 | 400), "{}", answer.head);
            let posted = exchange(&mut conn, "POST", &poll_target(&sid), "4x").await;
            assert_eq!(posted.body, "ok", "{first} hooked {hooked}");

            let mut ws = connect(port).await;
            let upgrade = format!(
                "GET /engine.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n\
                 Connection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            );
            let mut bytes = upgrade.into_bytes();
            bytes.extend_from_slice(&client_text_frame("2probe"));
            ws.write_all(&bytes).await.unwrap();
            assert_eq!(response(&mut ws).await.status, 101);
            let probe = tokio::time::timeout(WAIT, server_text_frame(&mut ws)).await;
            assert_eq!(probe.unwrap(), "3probe");
            ws.write_all(&client_text_frame("5")).await.unwrap();
            // Well before the idle timeout (10 s).
            assert!(
                closed_within(&mut conn, WAIT).await,
                "{first} first, hooked {hooked}: the polling connection is still open"
            );
        }
    }
}

/// Query, HTTP-version and CORS edge cases answered the same bytes on both paths (the
/// engine's own and the general one, forced by a no-op `headers` hook): each case is a
/// CORS policy and raw requests (`{sid}` standing for the session's id) written in one
/// go, pipelined; every answer is compared, and whether the connection then closes.
#[tokio::test]
async fn edge_cases_are_answered_the_same_bytes_on_both_paths() {
    use sockio::engine::cors::{AllowOrigin, Cors};
    let mirror = || {
        let mut cors = Cors::new(AllowOrigin::Mirror).credentials(true);
        cors.exposed_headers = Some("x-a".into());
        Some(cors)
    };
    let exact = || Some(Cors::new(AllowOrigin::Exact("http://ok".into())));
    let any = || Some(Cors::new(AllowOrigin::Any));
    let get = |query: &str, extra: &str| format!("GET /engine.io/?{query} HTTP/1.1\r\n{extra}\r\n");
    let post = |query: &str, extra: &str, body: &str| {
        let length = body.len();
        format!(
            "POST /engine.io/?{query} HTTP/1.1\r\n{extra}Content-Length: {length}\r\n\r\n{body}"
        )
    };
    let p = "EIO=4&transport=polling&sid={sid}";
    let ie = "User-Agent: x;MSIE 9\r\n";
    let binary = "Content-Type: APPLICATION/octet-stream\r\n";
    let cases: Vec<(Option<Cors>, Vec<String>)> = vec![
        // Empty pairs, duplicates (the first counts), `sid` without a value.
        (None, vec![
            post("sid={sid}&&EIO=4&transport=polling&", "", "4a"),
            get("&sid={sid}&EIO=4&EIO=3&transport=polling&transport=websocket", ""),
        ]),
        (None, vec![
            post("EIO=4&transport=polling&sid={sid}&sid=other", "", "4a"),
            get("EIO=4&transport=polling&sid={sid}&b64&j&x=1?y=2/:@", ""),
        ]),
        (None, vec![post("EIO=4&transport=polling&sid", "", "4a"), get(&format!("sid=&{p}"), "")]),
        // `#`, escapes, `+`, non-ASCII, a byte `http::Uri` refuses: the general path's.
        (None, vec![post(&format!("{p}#frag"), "", "4a"), get(p, "")]),
        (None, vec![
            post("EIO=4&transport=polling&s%69d={sid}", "", "4a"),
            get("EIO=4&transport=polling+&sid={sid}", ""),
        ]),
        (None, vec![post(&format!("{p}&x=%C3%A9"), "", "4a"), get(&format!("{p}&x=\u{e9}"), "")]),
        (None, vec![post(&format!("{p}&x=\""), "", "4a"), get(p, "")]),
        // A refused binary POST; a GET with a body; a body not all there (hyper waits).
        (None, vec![post(p, "", "4a"), post(p, binary, "4b")]),
        (None, vec![
            post(p, "", "4before"),
            format!("GET /engine.io/?{p} HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
            post(p, "", "4after"),
            get(p, ""),
        ]),
        (None, vec![post(p, "", "4x"), format!("POST /engine.io/?{p} HTTP/1.1\r\nContent-Length: 9\r\n\r\n4y")]),
        // Internet Explorer (POST: always; GET: on 200), deflate when gzip is refused.
        (None, vec![
            post(p, ie, "4x"),
            post(p, ie, "4"),
            get(p, "User-Agent: Trident/7\r\nAccept-Encoding: deflate, gzip;q=0\r\n"),
        ]),
        // `Connection: close`, HTTP/1.0 with and without keep-alive, a refused head.
        (None, vec![post(p, "", "4x"), get(p, "Connection: close\r\n")]),
        (None, vec![format!("POST /engine.io/?{p} HTTP/1.0\r\nContent-Length: 2\r\n\r\n4x"), get(p, "")]),
        (None, vec![post(p, "", "4x"), format!("GET /engine.io/?{p} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")]),
        (None, vec![get(p, "Origin: http://a\x01b\r\n"), get(p, "")]),
        // CORS: two `Origin`s (the first counts), a non-ASCII one, a preflight between.
        (mirror(), vec![
            post(p, "Origin: http://a\r\norigin: http://b\r\n", "4x"),
            get(p, "Origin: http://\u{e9}\r\n"),
        ]),
        (mirror(), vec![
            post(p, "", "4x"),
            format!("OPTIONS /engine.io/?{p} HTTP/1.1\r\nOrigin: http://a\r\nAccess-Control-Request-Headers: x-b\r\n\r\n"),
            get(p, "Origin: http://a\r\n"),
        ]),
        (exact(), vec![post(p, "Origin: http://ok\r\n", "4x"), get(p, "Origin: http://no\r\n")]),
        (any(), vec![post(p, "Origin: http://ok\r\n", "4x"), get(p, "")]),
    ];
    for (case, (cors, requests)) in cases.into_iter().enumerate() {
        let mut answers = Vec::new();
        for hooked in [false, true] {
            let mut builder = EngineConfig::builder().http_compression(Some(1));
            if let Some(cors) = cors.clone() {
                builder = builder.cors(cors);
            }
            let (port, _engine) = start(on_path(builder, hooked)).await;
            let mut conn = connect(port).await;
            let sid = handshake(&mut conn).await;
            let all: String = requests.iter().map(|r| r.replace("{sid}", &sid)).collect();
            conn.write_all(all.as_bytes()).await.unwrap();
            let mut got = Vec::new();
            for _ in &requests {
                // A poll with nothing to send waits: no answer in a second is one outcome.
                let Ok(answer) =
                    tokio::time::timeout(Duration::from_secs(1), raw_response(&mut conn)).await
                else {
                    got.push("no answer".to_owned());
                    break;
                };
                let text = String::from_utf8_lossy(&answer).replace(&sid, "SID");
                let closes = text.contains("\r\nconnection: close\r\n");
                got.push(text);
                if closes {
                    break;
                }
            }
            got.push(format!(
                "closed: {}",
                closed_within(&mut conn, Duration::from_millis(200)).await
            ));
            answers.push(got);
        }
        assert_eq!(answers[0], answers[1], "case {case}");
    }
}
