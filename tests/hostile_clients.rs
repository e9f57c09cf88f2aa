//! Hostile and broken clients (issue 14). Each case is followed by the same check: the
//! server still answers a new client, and no trace of the dead connections remains —
//! no session, no namespace socket, no room.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use sockio::server::{args, SocketIo};
use support::raw_client::{RawClient, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve(io: &SocketIo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let io = io.clone();
    tokio::spawn(async move {
        let _ = io.serve(listener).await;
    });
    addr
}

/// A server whose sockets join room `lobby` and echo `echo` with an ack.
fn server() -> SocketIo {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300))
        .max_payload(100_000)
        .build();
    io.on_connection(|s| {
        s.join("lobby");
        s.on("echo", |_, mut e| {
            let args = e.take_args();
            let _ = e.ack(args);
        });
    });
    io
}

/// The server answers a new client, then — once that client is gone too — holds no
/// session, socket or room.
async fn still_serves_and_forgot_everyone(io: &SocketIo, addr: SocketAddr) {
    let (mut c, _) = RawClient::connect_main(addr).await;
    let answer = c.emit_with_ack("/", "echo", "hi", WAIT).await;
    assert_eq!(answer, vec![sockio::server::Value::from("hi")]);
    drop(c);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let sessions = io.engine().session_count();
        let sockets = io.sockets().len();
        let rooms = io.sockets().rooms().len();
        if sessions == 0 && sockets == 0 && rooms == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {sessions} sessions, {sockets} sockets, {rooms} rooms"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn raw(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let _ = tcp.write_all(bytes).await;
    tcp
}

/// Reads until the server closes the connection (or `WAIT` passes).
async fn read_to_close(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn random_bytes_on_a_websocket_close_only_that_connection() {
    let io = server();
    let addr = serve(&io).await;
    let (mut bystander, _) = RawClient::connect_main(addr).await;
    // Valid frames whose payloads are garbage, then bytes that are no frame at all.
    let (mut c, _) = RawClient::connect_main(addr).await;
    for junk in [
        "4\u{0}\u{1}",
        "9zz",
        "42[\"echo\"",
        "4",
        "45-[\"x\",{\"_placeholder\":true}]",
    ] {
        c.send_engine(junk).await;
    }
    assert!(c.wait_closed(WAIT).await.is_some());
    let mut tcp = raw(
        addr,
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let _ = tcp.write_all(&noise).await;
    read_to_close(&mut tcp).await;
    // the bystander never noticed
    let answer = bystander.emit_with_ack("/", "echo", 1, WAIT).await;
    assert_eq!(answer, vec![sockio::server::Value::from(1)]);
    drop(bystander);
    still_serves_and_forgot_everyone(&io, addr).await;
}

#[tokio::test]
async fn malformed_http_half_sent_heads_and_aborted_posts() {
    let io = server();
    let addr = serve(&io).await;
    // not HTTP at all
    let mut tcp = raw(addr, b"\x16\x03\x01 hello?\r\n\r\n").await;
    let answer = read_to_close(&mut tcp).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // a head that never ends: held open without blocking anyone else
    let half = raw(
        addr,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    )
    .await;
    // a polling session whose POST announces more than it sends, then vanishes
    let mut tcp = raw(
        addr,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let mut buf = vec![0u8; 2048];
    let n = tcp.read(&mut buf).await.unwrap();
    let open = String::from_utf8_lossy(&buf[..n]).into_owned();
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a sid")
        .to_owned();
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n40"
    );
    let _ = tcp.write_all(post.as_bytes()).await;
    drop(tcp);
    drop(half);
    // a 5 MB payload over polling and over WebSocket: refused, the session closed
    let mut tcp = raw(
        addr,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let n = tcp.read(&mut buf).await.unwrap();
    let open = String::from_utf8_lossy(&buf[..n]).into_owned();
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a sid")
        .to_owned();
    let big = "4".repeat(5_000_000);
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    let _ = tcp.write_all(post.as_bytes()).await;
    let answer = read_to_close(&mut tcp).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        answer.lines().next().unwrap_or("")
    );
    let (mut c, _) = RawClient::connect_main(addr).await;
    c.send_raw(&format!("2[\"echo\",\"{}\"]", "x".repeat(5_000_000)))
        .await;
    assert!(c.wait_closed(WAIT).await.is_some());
    // ping timeouts clean up the abandoned polling sessions
    still_serves_and_forgot_everyone(&io, addr).await;
}

#[tokio::test]
async fn abandoned_polling_sessions_and_upgrades_that_never_complete() {
    let io = server();
    let addr = serve(&io).await;
    let mut sids = Vec::new();
    for _ in 0..200 {
        let mut tcp = raw(
            addr,
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let body = read_to_close(&mut tcp).await;
        if let Some(sid) = body
            .split("\"sid\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            sids.push(sid.to_owned());
        }
    }
    assert_eq!(sids.len(), 200);
    assert!(io.engine().session_count() >= 200);
    // an upgrade that sends the probe and then nothing
    let sid = &sids[0];
    let mut ws = raw(
        addr,
        format!("GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").as_bytes(),
    )
    .await;
    let mut buf = [0u8; 512];
    let n = ws.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
    still_serves_and_forgot_everyone(&io, addr).await;
    drop(ws);
}

#[tokio::test]
async fn a_thousand_connects_and_disconnects_leave_nothing_behind() {
    let io = server();
    let addr = serve(&io).await;
    for i in 0..1000 {
        let (mut c, _) = RawClient::connect_main(addr).await;
        if i % 100 == 1 {
            c.emit_with_ack("/", "echo", args![i], WAIT).await;
        }
        if i % 2 == 0 {
            c.disconnect("/").await;
        }
        drop(c);
    }
    still_serves_and_forgot_everyone(&io, addr).await;
}

#[tokio::test]
async fn a_peer_that_vanishes_without_fin_is_cleaned_up_by_the_ping_timeout() {
    let io = server();
    let addr = serve(&io).await;
    let (c, _) = RawClient::connect_main(addr).await;
    // The client stops answering pings and reading, as a vanished peer would.
    c.answer_pings(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(io.sockets().len(), 1);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !io.sockets().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "not cleaned up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(c);
    still_serves_and_forgot_everyone(&io, addr).await;
}
