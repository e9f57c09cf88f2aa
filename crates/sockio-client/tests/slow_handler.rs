//! A handler that blocks its thread must not stall the connection (alone in its test
//! binary: handler threads are shared by the managers of a process).

mod common;

use std::time::Duration;

use common::Recorder;
use sockio_client::{ClientBuilder, TransportKind, Value};
use sockio_server::SocketIo;

const T: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "current_thread")]
async fn blocking_handler_does_not_stall_heartbeats() {
    // pingInterval + pingTimeout = 500 ms; the handler blocks for 1.5 s.
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .build();
    io.on_connection(|s| {
        s.on("bounce", |s, mut ev| {
            let args = ev.take_args();
            let _ = s.emit("bounced", args);
        });
        s.on("echo", |_, mut ev| {
            let args = ev.take_args();
            let _ = ev.ack(args);
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });

    for transports in [vec![TransportKind::WebSocket], vec![TransportKind::Polling]] {
        let rec = Recorder::new();
        let socket = ClientBuilder::new(&format!("http://127.0.0.1:{port}/"))
            .force_new(true)
            .transports(&transports)
            .on("bounced", |_| {
                std::thread::sleep(Duration::from_millis(1500))
            })
            .on("bounced", rec.handler("bounced"))
            .on("disconnect", rec.handler("disconnect"))
            .connect()
            .await
            .unwrap();
        socket.emit("bounce", ()).unwrap();
        // Even on a current-thread runtime, the connection answers pings meanwhile.
        assert!(rec.wait("bounced", 1, T).await);
        assert_eq!(rec.count("disconnect"), 0, "{transports:?}");
        assert!(socket.connected());
        assert_eq!(
            socket.timeout(T).emit_with_ack("echo", 1).await.unwrap(),
            vec![Value::from(1)]
        );
        socket.io().close();
    }
}
