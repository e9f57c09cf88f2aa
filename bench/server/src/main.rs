//! The benchmark server (the contract every server of a benchmark run keeps, see
//! BENCHMARKS.md): sockio with default options on
//! `127.0.0.1:$PORT` (default 3900), namespace `/`, events `join`, `broadcast`, `echo`.
//!
//! ```text
//! cargo build --release --bin bench-server && PORT=3900 target/release/bench-server
//! ```

use sockio::server::SocketIo;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3900);
    let io = SocketIo::new();
    io.on_connection(|socket| {
        socket.on("join", |socket, mut event| {
            socket.join("bench");
            let _ = event.ack("ok");
        });
        socket.on("broadcast", |socket, mut event| {
            if let Some(io) = socket.server() {
                let _ = io.to("bench").emit("msg", event.take_args());
            }
        });
        socket.on("echo", |_, mut event| {
            let payload = event.take_args();
            let _ = event.ack(payload);
        });
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("bench-server (sockio) listening on 127.0.0.1:{port}");
    tokio::select! {
        served = io.serve(listener) => served,
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate() => Ok(()),
    }
}

async fn terminate() {
    #[cfg(unix)]
    {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}
