//! Mounting the Engine.IO server in an axum application: the engine answers its own path
//! (`/engine.io/`), axum routes everything else.
//!
//! ```text
//! cargo run --example axum      # then open http://127.0.0.1:3000/
//! ```

use axum::routing::get;
use axum::Router;
use sockio::engine::{Engine, EngineConfig, Handler, Message, Socket};

/// Sends every message back.
struct Echo;

impl Handler<()> for Echo {
    fn on_message(&self, socket: &Socket<()>, message: Message) {
        let _ = socket.send(message);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let engine = Engine::new(EngineConfig::default(), Echo);
    let app = Router::new()
        .route("/", get(|| async { "engine.io echo at /engine.io/" }))
        .layer(engine.layer());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    axum::serve(listener, app).await
}
