//! The backpressure policy: each connection's outgoing queue is bounded in bytes
//! (`max_buffered_bytes`). A client that stops reading is disconnected with reason
//! `transport error` once its queue would pass the bound — with a log line and a count in
//! `Engine::slow_client_closes` — instead of the server buffering without limit or
//! dropping packets silently. Other clients are not affected.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio::server::{DisconnectReason, SocketIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A masked client text frame (payload < 126 bytes).
fn text_frame(payload: &str) -> Vec<u8> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads until `needle` has been seen (bounded).
async fn read_until(stream: &mut TcpStream, needle: &[u8]) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.windows(needle.len()).any(|w| w == needle) {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed early");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("in time");
}

/// Opens a WebSocket session and joins `/`, with raw bytes.
async fn connect_raw(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    read_until(&mut s, b"\"maxPayload\"").await;
    s.write_all(&text_frame("40")).await.unwrap();
    read_until(&mut s, b"40{\"sid\"").await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_not_buffered_forever() {
    let io = SocketIo::builder().max_buffered_bytes(256 * 1024).build();
    let reasons: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let seen = reasons.clone();
    io.on_connection(move |socket| {
        socket.join("room");
        let seen = seen.clone();
        socket.on_disconnect(move |_, reason| seen.lock().unwrap().push(reason));
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = io.clone();
    tokio::spawn(async move { server.serve(listener).await });

    let _slow = connect_raw(port).await; // never read from again
    let mut fast = connect_raw(port).await;
    assert_eq!(io.sockets().len(), 2);
    // The fast client reads everything, looking for the final `after` event.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let needle = b"[\"after\",\"ok\"]";
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match fast.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.windows(needle.len()).any(|w| w == needle) {
                        let _ = done_tx.send(());
                        return;
                    }
                    let keep = tail.len().saturating_sub(needle.len());
                    tail.drain(..keep);
                }
            }
        }
    });

    // Push far more than the socket buffers plus the bound can hold.
    let chunk = "x".repeat(64 * 1024);
    let mut sent = 0;
    while reasons.lock().unwrap().is_empty() && sent < 2_000 {
        let _ = io.to("room").emit("data", &chunk);
        sent += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![DisconnectReason::TransportError],
        "the slow client is disconnected as a transport error after {sent} messages"
    );
    assert_eq!(io.engine().slow_client_closes(), 1);
    assert!(sent < 2_000, "disconnected long before 128 MB were queued");
    // The fast client is still there and still served.
    assert_eq!(io.sockets().len(), 1);
    io.emit("after", "ok").unwrap();
    tokio::time::timeout(Duration::from_secs(10), done_rx)
        .await
        .expect("the fast client got everything, then `after`")
        .unwrap();
}

/// One HTTP/1.1 request on its own connection; the response body.
async fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut res = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut res))
        .await
        .expect("response in time")
        .unwrap();
    let res = String::from_utf8_lossy(&res).into_owned();
    res.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_client_that_stops_polling_is_disconnected_too() {
    let io = SocketIo::builder().max_buffered_bytes(256 * 1024).build();
    let reasons: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let sockets: Arc<Mutex<Vec<sockio::server::Socket>>> = Arc::default();
    let (seen, kept) = (reasons.clone(), sockets.clone());
    io.on_connection(move |socket| {
        kept.lock().unwrap().push(socket.clone());
        let seen = seen.clone();
        socket.on_disconnect(move |_, reason| seen.lock().unwrap().push(reason));
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = io.clone();
    tokio::spawn(async move { server.serve(listener).await });

    let open = http(port, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("sid in the open packet")
        .to_owned();
    let session = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(port, "POST", &session, "40").await, "ok");
    let socket = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(s) = sockets.lock().unwrap().first() {
                return s.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("connected");

    // No GET ever comes: everything stays queued, until the emit that would pass the
    // bound (256 KiB, in 64 KiB messages) fails.
    let chunk = "x".repeat(64 * 1024);
    let sent = (1..=100)
        .find(|_| socket.emit("data", &chunk).is_err())
        .expect("an emit fails at the bound");
    assert!(sent <= 5, "refused at the bound, not later: message {sent}");
    assert_eq!(io.engine().slow_client_closes(), 1);
    // The connection's own task then disconnects it.
    tokio::time::timeout(Duration::from_secs(5), async {
        while reasons.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("disconnected");
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![DisconnectReason::TransportError]
    );
    assert!(io.sockets().is_empty());
    // The session is gone: a late poll is told so.
    let late = http(port, "GET", &session, "").await;
    assert!(late.contains("Session ID unknown"), "{late}");
}
