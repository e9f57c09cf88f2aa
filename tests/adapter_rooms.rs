//! `Adapter::room_created` / `Adapter::room_deleted` (socket.io-adapter's `create-room` /
//! `delete-room`): called when a room of this server gets its first socket and loses its
//! last, with whether it is a socket's own id room — what the sharded Redis adapter needs to
//! subscribe to room channels.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockio::server::adapter::{
    AckSink, Adapter, BoxFuture, BroadcastOptions, NamespaceHandle, RemoteSocketData,
};
use sockio::server::{AdapterError, Args, BroadcastAckError, LocalAdapter, Room, SocketIo, Value};
use support::raw_client::{RawClient, WAIT};
use tokio::net::TcpListener;

type Log = Arc<Mutex<Vec<String>>>;

/// The in-memory adapter, recording the room hooks.
struct Recording(Log);

impl Adapter for Recording {
    fn init(&self, ns: NamespaceHandle) -> BoxFuture<'static, Result<(), AdapterError>> {
        LocalAdapter.init(ns)
    }
    fn close(&self) -> BoxFuture<'static, ()> {
        LocalAdapter.close()
    }
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        LocalAdapter.server_count()
    }
    fn broadcast(&self, o: &BroadcastOptions, e: &str, a: &Args) -> Result<(), AdapterError> {
        LocalAdapter.broadcast(o, e, a)
    }
    fn broadcast_with_ack(
        &self,
        o: &BroadcastOptions,
        e: &str,
        a: &Args,
        r: AckSink,
    ) -> Result<(), AdapterError> {
        LocalAdapter.broadcast_with_ack(o, e, a, r)
    }
    fn fetch_sockets(
        &self,
        o: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        LocalAdapter.fetch_sockets(o)
    }
    fn add_sockets(&self, o: &BroadcastOptions, r: &[Room]) -> Result<(), AdapterError> {
        LocalAdapter.add_sockets(o, r)
    }
    fn del_sockets(&self, o: &BroadcastOptions, r: &[Room]) -> Result<(), AdapterError> {
        LocalAdapter.del_sockets(o, r)
    }
    fn disconnect_sockets(&self, o: &BroadcastOptions, c: bool) -> Result<(), AdapterError> {
        LocalAdapter.disconnect_sockets(o, c)
    }
    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        LocalAdapter.all_rooms()
    }
    fn server_side_emit(&self, a: Vec<Value>) -> Result<(), AdapterError> {
        LocalAdapter.server_side_emit(a)
    }
    fn server_side_emit_with_ack(
        &self,
        a: Vec<Value>,
        t: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, BroadcastAckError>> {
        LocalAdapter.server_side_emit_with_ack(a, t)
    }
    fn room_created(&self, room: &Room, private: bool) {
        let kind = if private { "private" } else { "public" };
        self.0.lock().unwrap().push(format!("+{kind} {room}"));
    }
    fn room_deleted(&self, room: &Room, private: bool) {
        let kind = if private { "private" } else { "public" };
        self.0.lock().unwrap().push(format!("-{kind} {room}"));
    }
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[tokio::test]
async fn rooms_created_and_deleted_reach_the_adapter() {
    let log: Log = Arc::default();
    let l = log.clone();
    let io = SocketIo::builder()
        .adapter(move |_| Arc::new(Recording(l.clone())) as Arc<dyn Adapter>)
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = io.clone();
    tokio::spawn(async move {
        let _ = server.serve(listener).await;
    });

    let (mut a, a_id) = RawClient::connect_main(addr).await;
    let (_b, b_id) = RawClient::connect_main(addr).await;
    assert_eq!(
        take(&log),
        [format!("+private {a_id}"), format!("+private {b_id}")]
    );

    let sa = io.sockets().socket(&a_id).unwrap();
    let sb = io.sockets().socket(&b_id).unwrap();
    sa.join(["red", "blue"]);
    assert_eq!(take(&log), ["+public red", "+public blue"]);
    sb.join("red");
    sa.join("red");
    assert!(
        take(&log).is_empty(),
        "rooms that exist are not created again"
    );
    sa.leave("red");
    assert!(take(&log).is_empty(), "red still has b");
    sb.leave("red");
    assert_eq!(take(&log), ["-public red"]);
    // a server-side selection joining: the same hooks
    io.to(b_id.as_str()).sockets_join("green").unwrap();
    assert_eq!(take(&log), ["+public green"]);

    a.disconnect("/").await;
    let started = std::time::Instant::now();
    loop {
        let mut got = log.lock().unwrap().clone();
        got.sort();
        if got == [format!("-private {a_id}"), "-public blue".to_owned()] {
            break;
        }
        assert!(started.elapsed() < WAIT, "{got:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
