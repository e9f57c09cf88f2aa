//! Mounting the Engine.IO server in an axum application: the engine answers its own path
//! (`/engine.io/`), axum routes everything else. (A Socket.IO server mounts the same way:
//! `.layer(io.layer())`.)
//!
//! ```text
//! cargo run --example axum      # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then open http://127.0.0.1:3000/, or echo messages with engine.io-client:
//!
//! ```js
//! const socket = new Socket("http://127.0.0.1:3000");  // import { Socket } from "engine.io-client"
//! socket.on("message", console.log);                   // → hello
//! socket.on("open", () => socket.send("hello"));
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
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|e| std::io::Error::other(format!("PORT={port}: {e}")))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    axum::serve(listener, app).await
}
