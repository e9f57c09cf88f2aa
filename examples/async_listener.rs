//! Async listeners: `socket.on_async` awaits (here a simulated database lookup) before
//! answering the acknowledgement. While it waits, the socket's next events are handled:
//! a slow lookup holds up neither the client's other requests nor other clients.
//!
//! ```text
//! cargo run --example async_listener   # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser):
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! await socket.emitWithAck("user", 1);    // → { user: { id: 1, name: "Ada" } } after ~200 ms
//! await socket.emitWithAck("user", 99);   // → { error: "no user 99" }
//! await socket.emitWithAck("ping");       // → "pong", at once, even during a lookup
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sockio::server::SocketIo;

#[derive(Clone, Serialize)]
struct User {
    id: u32,
    name: String,
}

impl User {
    fn new(id: u32, name: &str) -> Self {
        User {
            id,
            name: name.into(),
        }
    }
}

/// Stands for a database: every query takes a while.
struct Db {
    users: HashMap<u32, User>,
}

impl Db {
    fn new() -> Self {
        let users = [(1, "Ada"), (2, "Grace")]
            .into_iter()
            .map(|(id, name)| (id, User::new(id, name)))
            .collect();
        Db { users }
    }

    async fn find_user(&self, id: u32) -> Option<User> {
        tokio::time::sleep(Duration::from_millis(200)).await; // the round trip to the database
        self.users.get(&id).cloned()
    }
}

/// The answer to `user`: `{ user: {…} }` or `{ error: "…" }`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    User(User),
    Error(String),
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();
    // Shared by every listener; `io.set_state(db)` + `socket.server()…state::<Db>()` works too.
    let db = Arc::new(Db::new());

    io.on_connection(move |socket| {
        let db = db.clone();
        // The listener gets the socket and the event by value, so its future owns them
        // and can await; `event.ack(…)` answers once the lookup is done.
        socket.on_async("user", move |_socket, mut event| {
            let db = db.clone();
            async move {
                let reply = match event.arg::<u32>(0) {
                    Ok(id) => match db.find_user(id).await {
                        Some(user) => Reply::User(user),
                        None => Reply::Error(format!("no user {id}")),
                    },
                    Err(e) => Reply::Error(format!("expected a user id: {e}")),
                };
                let _ = event.ack(reply);
            }
        });

        // A sync listener: it answers at once, even while lookups are still waiting.
        socket.on("ping", |_, mut event| {
            let _ = event.ack("pong");
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
