//! socketioxide 0.18 on axum: the benchmark peer of `docs/benchmark-contract.md`.
//!
//! Default options (no compression, default heartbeat), path `/socket.io/`, namespace `/` only.
//! Multi-threaded tokio runtime sized by tokio's default (the CPU affinity).

use serde_json::Value;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

// In socketioxide 0.18 connect and message handlers are all async: the library spawns a
// tokio task per handler call.
async fn on_connect(socket: SocketRef) {
    // `join` (any args, ack optional): join room `bench`, ack "ok" if asked.
    socket.on("join", async |socket: SocketRef, ack: AckSender| {
        socket.join("bench");
        // Without an ack id `send` is a no-op.
        let _ = ack.send("ok");
    });
    // `broadcast`: re-emit the payload as `msg` to every socket in room `bench`. Broadcast
    // emits return a future in socketioxide 0.18 (remote adapters).
    socket.on(
        "broadcast",
        async |io: SocketIo, Data(payload): Data<Value>| {
            let _ = io.to("bench").emit("msg", &payload).await;
        },
    );
    // `echo`: ack with the payload.
    socket.on(
        "echo",
        async |Data(payload): Data<Value>, ack: AckSender| {
            let _ = ack.send(&payload);
        },
    );
}

fn port() -> u16 {
    match std::env::var("PORT") {
        Ok(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("invalid PORT {p:?}");
            std::process::exit(2)
        }),
        Err(_) => 3900,
    }
}

#[tokio::main]
async fn main() {
    // One socket.io service (404 for other paths), mounted as the router's fallback service.
    // Not `Router::fallback(handler).layer(SocketIo::new_layer())`: axum applies a layer to
    // each endpoint, and every `layer()` call builds a new engine.io session map, so a
    // polling session opened on one connection was unknown on the next (`Session ID
    // unknown` for every POST from a second connection, as browsers and socket.io-client
    // send them). WebSocket-only benchmarks never noticed: each of their sessions lives on
    // one connection.
    let (svc, io) = SocketIo::new_svc();
    io.ns("/", on_connect);

    let app = axum::Router::new().fallback_service(svc);

    let port = port();
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        }
    };
    eprintln!("bench-server (socketioxide 0.18 on axum) listening on 127.0.0.1:{port}");

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        r = axum::serve(listener, app) => {
            if let Err(e) = r {
                eprintln!("server error: {e}");
                std::process::exit(1)
            }
        }
        _ = sigterm.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    // Exit at once: open connections are not drained.
    std::process::exit(0)
}
