//! A chat with rooms: join and leave rooms (several at once), talk to a room (everyone in
//! it but the sender), announce to everybody, list a socket's rooms and a room's members.
//!
//! ```text
//! cargo run --example chat        # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser):
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("message", ({ room, from, text }) => console.log(`[${room}] ${from}: ${text}`));
//! socket.on("announcement", ({ from, text }) => console.log(`${from} to all: ${text}`));
//! await socket.emitWithAck("join", ["general", "rust"]);     // → { rooms: ["general", "rust"] }
//! await socket.emitWithAck("message", { room: "rust", text: "hi" }); // → { ok: true }
//! await socket.emitWithAck("members", "rust");                // → { members: [ids…] }
//! await socket.emitWithAck("leave", ["general"]);            // → { rooms: ["rust"] }
//! socket.emit("announce", "hello everyone");
//! ```

use serde::{Deserialize, Serialize};
use sockio::server::{Socket, SocketIo};

/// A message from a client to one of its rooms.
#[derive(Deserialize)]
struct Outgoing {
    room: String,
    text: String,
}

/// What the other members of the room receive.
#[derive(Serialize)]
struct Message<'a> {
    room: &'a str,
    from: &'a str,
    text: &'a str,
}

/// What everybody receives from `announce`.
#[derive(Serialize)]
struct Announcement<'a> {
    from: &'a str,
    text: &'a str,
}

/// What every acknowledgement of this example answers: one field, or `error`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    Rooms(Vec<String>),
    Members(Vec<String>),
    Ok(bool),
    Error(String),
}

/// The rooms a socket joined, sorted, without the room named after its own id (every
/// socket is in it: that is how `io.to(id)` reaches one client).
fn joined_rooms(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket
        .rooms()
        .into_iter()
        .filter(|room| room.as_str() != socket.id().as_str())
        .map(|room| room.to_string())
        .collect();
    rooms.sort();
    rooms
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();

    io.on_connection(|socket| {
        // "join" / "leave" take a list of rooms and answer with the rooms the socket is in.
        socket.on("join", |socket, mut event| {
            let reply = match event.arg::<Vec<String>>(0) {
                Ok(rooms) => {
                    socket.join(rooms);
                    Reply::Rooms(joined_rooms(socket))
                }
                Err(e) => Reply::Error(format!("expected a list of rooms: {e}")),
            };
            let _ = event.ack(reply);
        });
        socket.on("leave", |socket, mut event| {
            let reply = match event.arg::<Vec<String>>(0) {
                Ok(rooms) => {
                    socket.leave(rooms);
                    Reply::Rooms(joined_rooms(socket))
                }
                Err(e) => Reply::Error(format!("expected a list of rooms: {e}")),
            };
            let _ = event.ack(reply);
        });
        socket.on("rooms", |socket, mut event| {
            let _ = event.ack(Reply::Rooms(joined_rooms(socket)));
        });

        // To a room the sender is in, without the sender (socket.io's `socket.to(room)`).
        socket.on("message", |socket, mut event| {
            let reply = match event.arg::<Outgoing>(0) {
                Err(e) => Reply::Error(format!("expected {{ room, text }}: {e}")),
                Ok(msg) if !socket.rooms().iter().any(|r| r.as_str() == msg.room) => {
                    Reply::Error(format!("join {} first", msg.room))
                }
                Ok(msg) => {
                    let message = Message {
                        room: &msg.room,
                        from: socket.id(),
                        text: &msg.text,
                    };
                    match socket.to(msg.room.as_str()).emit("message", &message) {
                        Ok(()) => Reply::Ok(true),
                        Err(e) => Reply::Error(e.to_string()),
                    }
                }
            };
            let _ = event.ack(reply);
        });

        // To everybody, the sender included (`io.emit`).
        socket.on("announce", |socket, event| {
            let Ok(text) = event.arg::<String>(0) else {
                return; // not a string: nothing to announce
            };
            if let Some(io) = socket.server() {
                let from = socket.id().as_str();
                if let Err(e) = io.emit("announcement", Announcement { from, text: &text }) {
                    eprintln!("announcement from {from} failed: {e}");
                }
            }
        });

        // The members of a room: `fetch_sockets` asks every server of a cluster, so it is
        // async (`io.in(room).fetchSockets()` in socket.io).
        socket.on_async("members", |socket, mut event| async move {
            let reply = match event.arg::<String>(0) {
                Err(e) => Reply::Error(format!("expected a room name: {e}")),
                Ok(room) => match socket.namespace().to(room).fetch_sockets().await {
                    Ok(sockets) => {
                        let mut ids: Vec<String> =
                            sockets.iter().map(|s| s.id().to_string()).collect();
                        ids.sort();
                        Reply::Members(ids)
                    }
                    Err(e) => Reply::Error(e.to_string()),
                },
            };
            let _ = event.ack(reply);
        });

        socket.on_disconnect(|socket, reason| println!("{} left ({reason})", socket.id()));
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
