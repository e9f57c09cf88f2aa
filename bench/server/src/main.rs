//! The benchmark server (the contract every server of a benchmark run keeps, see
//! BENCHMARKS.md): sockio with default options on
//! `127.0.0.1:$PORT` (default 3900), namespace `/`, events `join`, `broadcast`, `echo`.
//!
//! ```text
//! cargo build --release --bin bench-server && PORT=3900 target/release/bench-server
//! ```
//!
//! With `REDIS_URL` (the cluster benchmark), one node of a cluster: a `sockio-redis`
//! adapter (`REDIS_ADAPTER=classic|sharded`, default classic; `REDIS_KEY`, default
//! `socket.io`), subscribed before listening.

use sockio::server::SocketIo;
use sockio_redis::{AdapterKind, RedisAdapter, RedisAdapterOptions};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3900);
    let redis = match std::env::var("REDIS_URL") {
        Ok(url) => Some(connect_redis(url).await?),
        Err(_) => None,
    };
    let io = match &redis {
        Some(redis) => SocketIo::builder().adapter(redis.factory()).build(),
        None => SocketIo::new(),
    };
    if let Some(redis) = &redis {
        redis.ready("/").await.map_err(std::io::Error::other)?;
    }
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
    eprintln!(
        "bench-server (sockio{}) listening on 127.0.0.1:{port}",
        if redis.is_some() {
            ", redis adapter"
        } else {
            ""
        }
    );
    tokio::select! {
        served = io.serve(listener) => served,
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate() => Ok(()),
    }
}

async fn connect_redis(url: String) -> std::io::Result<RedisAdapter> {
    let kind = match std::env::var("REDIS_ADAPTER").as_deref() {
        Ok("sharded") => AdapterKind::Sharded,
        Ok("classic") | Err(_) => AdapterKind::Classic,
        Ok(other) => {
            return Err(std::io::Error::other(format!(
                "REDIS_ADAPTER={other}: classic or sharded"
            )))
        }
    };
    let mut options = RedisAdapterOptions::new(url).kind(kind);
    if let Ok(key) = std::env::var("REDIS_KEY") {
        options = options.key(key);
    }
    RedisAdapter::connect(options)
        .await
        .map_err(std::io::Error::other)
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
