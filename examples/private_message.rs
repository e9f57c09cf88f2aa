//! Private messages: one client writes to another by socket id (every socket is alone in
//! a room named after its id, so `io.to(id)` reaches exactly that client), and any client
//! can list who is connected.
//!
//! ```text
//! cargo run --example private_message   # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser), in two clients:
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("private message", ({ from, text }) => console.log(`${from} whispers: ${text}`));
//! const { users } = await socket.emitWithAck("users");            // every connected id
//! await socket.emitWithAck("private message", { to: users[0], text: "psst" }); // → { ok: true }
//! ```

use serde::{Deserialize, Serialize};
use sockio::server::SocketIo;

/// A private message as the sender writes it.
#[derive(Deserialize)]
struct Outgoing {
    to: String,
    text: String,
}

/// The private message as its recipient gets it.
#[derive(Serialize)]
struct Incoming<'a> {
    from: &'a str,
    text: &'a str,
}

/// The acknowledgements of this example: one field, or `error`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    Users(Vec<String>),
    Ok(bool),
    Error(String),
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();

    io.on_connection(|socket| {
        // The connected clients. `fetch_sockets` asks every server of a cluster, hence
        // `on_async`; `socket.namespace().sockets()` would list this server's only.
        socket.on_async("users", |socket, mut event| async move {
            let reply = match socket.namespace().fetch_sockets().await {
                Ok(sockets) => {
                    let mut ids: Vec<String> = sockets.iter().map(|s| s.id().to_string()).collect();
                    ids.sort();
                    Reply::Users(ids)
                }
                Err(e) => Reply::Error(e.to_string()),
            };
            let _ = event.ack(reply);
        });

        socket.on_async("private message", |socket, mut event| async move {
            let msg = match event.arg::<Outgoing>(0) {
                Ok(msg) => msg,
                Err(e) => {
                    let _ = event.ack(Reply::Error(format!("expected {{ to, text }}: {e}")));
                    return;
                }
            };
            let Some(io) = socket.server() else {
                return; // the server is shutting down
            };
            // Tell the sender when no client has that id, on any server of the cluster
            // (`to` also takes room names: a name that is not an id is refused too).
            let reply = match io.to(msg.to.as_str()).fetch_sockets().await {
                Ok(found) if !found.iter().any(|s| s.id().as_str() == msg.to) => {
                    Reply::Error(format!("no client {}", msg.to))
                }
                Ok(_) => {
                    let incoming = Incoming {
                        from: socket.id(),
                        text: &msg.text,
                    };
                    match io.to(msg.to.as_str()).emit("private message", &incoming) {
                        Ok(()) => Reply::Ok(true),
                        Err(e) => Reply::Error(e.to_string()),
                    }
                }
                Err(e) => Reply::Error(e.to_string()),
            };
            let _ = event.ack(reply);
        });
    });

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|e| std::io::Error::other(format!("PORT={port}: {e}")))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    io.serve(listener).await
}
