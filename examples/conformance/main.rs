//! The conformance server: the whole Engine.IO / Socket.IO surface behind fixed handlers,
//! so black-box suites written for socket.io 4.8 can run against sockio unchanged
//! (`shared/spec/conformance-server.md`).
//!
//! ```text
//! PORT=3000 cargo run --release --example conformance
//! ```
//!
//! * `/engine.io/`: a bare Engine.IO echo — every message goes straight back, text as
//!   text, binary as binary.
//! * `/socket.io/`: the Engine.IO layer of the Socket.IO endpoint.
//! * anything else: 404.

use std::time::Duration;

use sockio::engine::cors::{AllowOrigin, Cors};
use sockio::engine::{Engine, EngineConfig, Handler, Message, Socket};
use tower_layer::Layer;

/// Sends every message back to its sender.
struct Echo;

impl Handler<()> for Echo {
    fn on_message(&self, socket: &Socket<()>, message: Message) {
        let _ = socket.send(message);
    }
}

/// The Engine.IO layer of `/socket.io/`, until the Socket.IO server sits on it.
struct Silent;

impl Handler<()> for Silent {
    fn on_message(&self, _: &Socket<()>, _: Message) {}
}

fn config(path: &str) -> EngineConfig {
    EngineConfig::builder()
        .path(path)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .allow_eio3(true)
        .cors(Cors::new(AllowOrigin::Any))
        .build()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let echo = Engine::new(config("/engine.io/"), Echo);
    let socket_io = Engine::new(config("/socket.io/"), Silent);
    let service = echo.layer().layer(socket_io.service());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    sockio::engine::serve(listener, service).await
}
