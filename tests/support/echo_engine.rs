//! An Engine.IO server alone (no Socket.IO) that echoes every message, served by
//! `Engine::serve` on 127.0.0.1 port 0: the peer of the raw-HTTP engine tests.

use sockio::engine::{Engine, EngineConfig, Handler, Message, Socket};
use tokio::net::TcpListener;

/// Sends every message back to its sender.
pub struct Echo;

impl Handler<()> for Echo {
    fn on_message(&self, socket: &Socket<()>, message: Message) {
        let _ = socket.send(message);
    }
}

/// An echoing engine with `config`, served in the background; its port and handle.
pub async fn start(config: EngineConfig) -> (u16, Engine<()>) {
    let engine = Engine::new(config, Echo);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = engine.clone();
    tokio::spawn(async move { served.serve(listener).await });
    (port, engine)
}
