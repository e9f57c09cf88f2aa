//! Churn without leaks (issue 14, the short version run in every test suite): clients
//! join and leave rooms, emit with acknowledgements, broadcast, disconnect and come back,
//! for a few seconds; afterwards, once the timeouts have passed, nothing of them remains
//! (sessions, sockets, rooms, tasks), and every acknowledged message reached the server
//! exactly once.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio::server::{args, SocketIo, Value};
use support::raw_client::{RawClient, WAIT};
use tokio::net::TcpListener;

const CLIENTS: usize = 40;
const RUN: Duration = Duration::from_secs(4);

/// Messages the server received, by client tag and sequence number.
type Received = Arc<Mutex<HashMap<(u64, u64), u32>>>;

fn server(received: Received) -> SocketIo {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(250))
        .ping_timeout(Duration::from_millis(250))
        .build();
    io.on_connection(move |s| {
        let received = received.clone();
        s.on("msg", move |s, mut e| {
            let (tag, seq): (u64, u64) = match e.args_as() {
                Ok(v) => v,
                Err(_) => return,
            };
            *received.lock().unwrap().entry((tag, seq)).or_default() += 1;
            let room = format!("room-{}", seq % 3);
            let _ = s.to(room).emit("relay", args![tag, seq]);
            let _ = e.ack(seq);
        });
        s.on("rooms", |s, mut e| {
            let join: Vec<String> = e.arg(0).unwrap_or_default();
            let leave: Vec<String> = e.arg(1).unwrap_or_default();
            s.join(join);
            s.leave(leave);
            let _ = e.ack(args![]);
        });
    });
    io
}

async fn serve(io: &SocketIo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let io = io.clone();
    tokio::spawn(async move {
        let _ = io.serve(listener).await;
    });
    addr
}

/// One client's life: connect, do a round of everything, leave in one of three ways,
/// come back; until `RUN` is over. Returns the messages the server acknowledged.
async fn client(addr: SocketAddr, tag: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    let mut seq = 0;
    let end = tokio::time::Instant::now() + RUN;
    let mut round = 0;
    while tokio::time::Instant::now() < end {
        let (mut c, _) = RawClient::connect_main(addr).await;
        let rooms = vec![
            format!("room-{}", round % 3),
            format!("room-{}", (round + 1) % 3),
        ];
        c.emit_with_ack(
            "/",
            "rooms",
            args![rooms, vec![format!("room-{}", (round + 2) % 3)]],
            WAIT,
        )
        .await;
        for _ in 0..5 {
            let answer = c.emit_with_ack("/", "msg", args![tag, seq], WAIT).await;
            assert_eq!(answer, vec![Value::from(seq)]);
            acked.push(seq);
            seq += 1;
        }
        match round % 3 {
            0 => c.disconnect("/").await,
            1 => c.close_ws().await,
            // vanish without a word: the ping timeout cleans up
            _ => c.answer_pings(false),
        }
        drop(c);
        round += 1;
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_leaves_nothing_behind_and_delivers_every_acked_message_once() {
    let received: Received = Arc::default();
    let io = server(received.clone());
    let addr = serve(&io).await;
    let idle_tasks = io.engine().task_count();

    let clients: Vec<_> = (0..CLIENTS as u64)
        .map(|tag| tokio::spawn(client(addr, tag)))
        .collect();
    let mut acked = Vec::new();
    for (tag, c) in clients.into_iter().enumerate() {
        for seq in c.await.expect("client task") {
            acked.push((tag as u64, seq));
        }
    }
    assert!(acked.len() >= CLIENTS * 5, "the clients did work");

    // Everything acknowledged arrived exactly once.
    let received = received.lock().unwrap().clone();
    for key in &acked {
        assert_eq!(received.get(key), Some(&1), "message {key:?}");
    }

    // Once the ping timeouts passed, nothing of the clients remains.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let sessions = io.engine().session_count();
        let sockets = io.sockets().len();
        let rooms = io.sockets().rooms().len();
        let tasks = io.engine().task_count();
        if sessions == 0 && sockets == 0 && rooms == 0 && tasks <= idle_tasks {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {sessions} sessions, {sockets} sockets, {rooms} rooms, {tasks} tasks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
