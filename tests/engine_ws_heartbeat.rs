//! The heartbeat of a WebSocket session, checked over raw TCP against `Engine::serve` with
//! short intervals: pongs that come well after the ping (the session's task has written
//! the ping and gone back to waiting) keep the session alive round after round, frames
//! that come after a round woken by the outgoing queue are read, and a missing pong closes
//! the session with "ping timeout", not before the timeout.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockio::engine::{CloseReason, Engine, EngineConfig, Handler, Message, Socket};
use support::ws_frames::client_text_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const INTERVAL: Duration = Duration::from_millis(150);
const TIMEOUT: Duration = Duration::from_millis(150);
const WAIT: Duration = Duration::from_secs(5);

/// What the engine saw: messages and close reasons, in order; and the open sockets.
#[derive(Clone, Default)]
struct Record {
    events: Arc<Mutex<Vec<String>>>,
    sockets: Arc<Mutex<Vec<Socket<()>>>>,
}

impl Handler<()> for Record {
    fn on_open(&self, socket: &Socket<()>) {
        self.sockets.lock().unwrap().push(socket.clone());
    }
    fn on_message(&self, _: &Socket<()>, message: Message) {
        if let Message::Text(t) = message {
            self.events.lock().unwrap().push(format!("message {t}"));
        }
    }
    fn on_close(&self, _: &Socket<()>, reason: CloseReason) {
        self.events.lock().unwrap().push(format!("close {reason}"));
    }
}

impl Record {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

async fn start() -> (TcpStream, Record, Engine<()>) {
    let record = Record::default();
    let config = EngineConfig::builder()
        .ping_interval(INTERVAL)
        .ping_timeout(TIMEOUT)
        .build();
    let engine = Engine::new(config, record.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = engine.clone();
    tokio::spawn(async move { served.serve(listener).await });
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    conn.write_all(
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
          Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    // The 101 head, byte by byte up to its blank line (the open packet follows).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        conn.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let open = frame(&mut conn).await.expect("open packet");
    assert!(open.starts_with("0{"), "{open}");
    (conn, record, engine)
}

/// The server's next text frame, or `None` once it closed (a close frame or EOF).
async fn frame(stream: &mut TcpStream) -> Option<String> {
    let mut head = [0u8; 2];
    tokio::time::timeout(WAIT, stream.read_exact(&mut head))
        .await
        .expect("a frame in time")
        .ok()?;
    let mut body = vec![0u8; usize::from(head[1] & 0x7f)];
    stream.read_exact(&mut body).await.ok()?;
    (head[0] == 0x81).then(|| String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn late_pongs_keep_the_session_alive_round_after_round() {
    late_pongs().await;
}

// The I/O driver and the heartbeat driver may run on another worker than the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_pongs_keep_the_session_alive_on_two_workers() {
    late_pongs().await;
}

async fn late_pongs() {
    let (mut conn, record, _engine) = start().await;
    for round in 0..4 {
        assert_eq!(
            frame(&mut conn).await.as_deref(),
            Some("2"),
            "round {round}"
        );
        // Well after the ping was written: the task waits again, and must be woken by
        // the pong itself.
        tokio::time::sleep(TIMEOUT / 3).await;
        conn.write_all(&client_text_frame("3")).await.unwrap();
        conn.write_all(&client_text_frame(&format!("4round {round}")))
            .await
            .unwrap();
    }
    assert_eq!(frame(&mut conn).await.as_deref(), Some("2"));
    assert_eq!(
        record.events(),
        [
            "message round 0",
            "message round 1",
            "message round 2",
            "message round 3"
        ]
    );
}

#[tokio::test]
async fn a_frame_after_a_round_woken_by_the_queue_is_read() {
    let (mut conn, record, _engine) = start().await;
    let socket = record.sockets.lock().unwrap()[0].clone();
    for k in 0..3 {
        // A round woken by the queue (the task writes, then waits again)...
        socket
            .send(Message::Text(format!("out {k}").into()))
            .unwrap();
        let mut got = frame(&mut conn).await;
        if got.as_deref() == Some("2") {
            conn.write_all(&client_text_frame("3")).await.unwrap();
            got = frame(&mut conn).await;
        }
        assert_eq!(got, Some(format!("4out {k}")));
        // ...then a frame from the client, later.
        tokio::time::sleep(Duration::from_millis(20)).await;
        conn.write_all(&client_text_frame(&format!("4in {k}")))
            .await
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while !record.events().contains(&format!("message in {k}")) {
            assert!(Instant::now() < deadline, "message {k} never read");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(!record.events().iter().any(|e| e.starts_with("close")));
}

#[tokio::test]
async fn a_missing_pong_closes_with_ping_timeout_never_early() {
    let (mut conn, record, _engine) = start().await;
    assert_eq!(frame(&mut conn).await.as_deref(), Some("2"));
    let pinged = Instant::now();
    assert_eq!(frame(&mut conn).await, None, "closed, no other packet");
    assert!(
        pinged.elapsed() >= TIMEOUT,
        "closed {:?} after the ping",
        pinged.elapsed()
    );
    assert_eq!(record.events(), ["close ping timeout"]);
}
