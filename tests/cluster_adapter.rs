//! The adapter is the cluster boundary: two servers in one process, joined by an
//! in-process bus adapter (tests/support/cluster.rs), behave as one server for every
//! cluster operation — broadcasts (all, rooms, except, local, binary), broadcasts with
//! acknowledgements, fetch_sockets and remote sockets, sockets_join / sockets_leave /
//! disconnect_sockets, server-side events with and without acknowledgement, the server
//! count and every room — and a node that stops answering makes requests fail in time
//! with what arrived.

mod support;

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use sockio::server::{args, AdapterError, BroadcastAckError, SocketIo, Value};
use support::cluster::{Bus, Node};
use support::raw_client::WAIT;
use support::two_servers::{self as checks, TwoServers};

fn server(node: &Node) -> SocketIo {
    let node = node.clone();
    SocketIo::builder()
        .adapter(move |nsp| node.adapter(nsp))
        .build()
}

/// Two servers on one bus, with `n` clients on each (see [`TwoServers`]).
struct Cluster {
    servers: TwoServers,
    node_b: Node,
}

impl Deref for Cluster {
    type Target = TwoServers;
    fn deref(&self) -> &TwoServers {
        &self.servers
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut TwoServers {
        &mut self.servers
    }
}

async fn cluster(n: usize) -> Cluster {
    let bus = Bus::new();
    let (node_a, node_b) = (bus.node(), bus.node());
    let servers = TwoServers::start(server(&node_a), server(&node_b), n).await;
    Cluster { servers, node_b }
}

#[tokio::test]
async fn broadcasts_reach_both_servers_with_rooms_except_and_local() {
    checks::check_broadcasts(&mut cluster(2).await.servers).await;
}

#[tokio::test]
async fn broadcast_acks_are_collected_from_every_server() {
    checks::check_broadcast_acks(&mut cluster(2).await.servers, Duration::from_millis(400)).await;
}

#[tokio::test]
async fn fetch_sockets_sees_remote_sockets_and_acts_on_them() {
    let mut c = cluster(1).await;
    checks::check_fetch_sockets(&mut c).await;
    checks::check_all_rooms(&c).await;
    let remote = c.a.to("node-b").fetch_sockets().await.unwrap();
    remote[0].disconnect().unwrap();
    assert!(c.on_b[0].0.next_disconnect("/", WAIT).await);
}

#[tokio::test]
async fn sockets_join_leave_and_disconnect_across_servers() {
    checks::check_sockets_join_leave_disconnect(&mut cluster(1).await.servers).await;
}

#[tokio::test]
async fn server_side_events_reach_the_other_servers() {
    checks::check_server_side_events(&cluster(0).await.servers).await;
}

#[tokio::test]
async fn a_server_that_stops_answering_makes_requests_fail_in_time() {
    let c = cluster(1).await;
    c.node_b.freeze();
    let started = std::time::Instant::now();
    match c.a.fetch_sockets().await {
        Err(AdapterError::Timeout { received, expected }) => {
            assert_eq!((received, expected), (0, 1))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < WAIT);
    c.b.sockets()
        .on_server_side_with_ack("ask", |_| Value::Null);
    match c
        .a
        .sockets()
        .server_side_emit_with_ack("ask", args![], Duration::from_millis(300))
        .await
    {
        Err(BroadcastAckError::Adapter { error, responses }) => {
            assert!(matches!(error, AdapterError::Timeout { .. }));
            assert!(responses.is_empty());
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // local delivery goes on
    let mut c = c;
    c.a.emit("still-here", args![]).unwrap();
    c.on_a[0].0.expect_event("still-here").await;
}
