//! `sockio serve`: a Socket.IO server with a live chat at `/`, the official
//! socket.io-client bundle under the Socket.IO path, and Prometheus metrics at
//! `/metrics`. Alone (in-memory adapter), or with `--redis URL` one node of a cluster: a
//! Redis adapter of `sockio-redis` carries the chat to the users of every node.
//!
//! The first line on stdout says where it listens (`listening on http://127.0.0.1:3000/`,
//! the real port with `--port 0`); logs go to stderr. Ctrl-C or SIGTERM: every client is
//! told (`notice` "server shutting down", then a disconnection with socket.io's reason
//! `server shutting down`) and the process exits, within two seconds.

mod chat;
mod client_bundle;
pub mod config;
mod metrics;
mod web;

use std::net::SocketAddr;
use std::time::Duration;

use sockio::server::SocketIo;
use sockio_redis::{AdapterKind, RedisAdapter, RedisAdapterOptions};
use tracing_subscriber::EnvFilter;

pub use config::ServeArgs;
use config::{Config, Redis};

/// Runs `sockio serve` until Ctrl-C or SIGTERM. Errors are one line, for stderr.
pub fn run(args: ServeArgs) -> Result<(), String> {
    let config = Config::load(args)?;
    let filter =
        EnvFilter::try_new(&config.log).map_err(|e| format!("log filter {:?}: {e}", config.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let bundle = client_bundle::ClientBundle::load(&config.client_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(serve(config, bundle));
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn serve(config: Config, bundle: client_bundle::ClientBundle) -> Result<(), String> {
    // Signals first: a SIGTERM right after the first line must not kill us unasked.
    let shutdown = shutdown_signal()?;

    let mut builder = SocketIo::builder()
        .path(config.path.clone())
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        .max_payload(config.max_payload)
        .transports(&config.transports);
    if let Some(cors) = config.cors.clone() {
        builder = builder.cors(cors);
    }
    let redis = match &config.redis {
        Some(settings) => Some(connect_redis(settings).await?),
        None => None,
    };
    if let Some(redis) = &redis {
        builder = builder.adapter(redis.factory());
    }
    let io = builder.build();
    chat::install(&io, redis.is_some());
    if let Some(redis) = &redis {
        // Subscribed before listening: the other nodes count this one from the start.
        redis
            .ready("/")
            .await
            .map_err(|e| format!("redis subscriptions failed: {e}"))?;
    }
    let app = web::app(&io, bundle, &config.path);

    let addr = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on http://{local}/");
    tracing::info!(
        chat = %format!("http://{local}/"),
        metrics = %format!("http://{local}/metrics"),
        path = %config.path,
        "sockio serve started"
    );

    let served = io.engine().serve_with(listener, app);
    tokio::select! {
        result = served => result.map_err(|e| format!("server failed: {e}")),
        signal = shutdown => {
            tracing::info!(%signal, "shutting down");
            let _ = io.emit("notice", "server shutting down");
            // Closing drops what is still queued: let the notice go out first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            io.close().await;
            // Time for the close packets to reach the clients.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Some(redis) = &redis {
                redis.close().await;
            }
            Ok(())
        }
    }
}

/// The Redis adapter of a cluster node. The first connection must succeed; after that,
/// Redis going away only stops the traffic between nodes (each keeps serving its own
/// users, the adapter reconnects and logs).
async fn connect_redis(settings: &Redis) -> Result<RedisAdapter, String> {
    let kind = if settings.sharded {
        AdapterKind::Sharded
    } else {
        AdapterKind::Classic
    };
    let options = RedisAdapterOptions::new(settings.url.clone())
        .kind(kind)
        .key(settings.key.clone());
    let redis = RedisAdapter::connect(options)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", settings.url))?;
    tracing::info!(url = %settings.url, adapter = ?kind, key = %settings.key, "cluster node through redis");
    Ok(redis)
}

/// Resolves on Ctrl-C or SIGTERM with the signal's name.
fn shutdown_signal() -> Result<impl std::future::Future<Output = &'static str>, String> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = ctrl_c => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
            "Ctrl-C"
        }
    })
}
