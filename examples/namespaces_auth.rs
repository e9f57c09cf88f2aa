//! Namespaces and connection middlewares: `/` is open to everyone, `/admin` only to clients
//! whose `auth.token` the middleware knows. A refused client gets `connect_error` with
//! `err.message` and `err.data`; an accepted one carries its user along (an extension).
//!
//! ```text
//! cargo run --example namespaces_auth   # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser):
//!
//! ```js
//! io("http://127.0.0.1:3000/").on("welcome", console.log);     // anyone
//! io("http://127.0.0.1:3000/admin")                             // refused:
//!   .on("connect_error", (err) => console.log(err.message, err.data));
//!   // → not authorized { code: 4001, hint: 'send auth.token' }
//! const admin = io("http://127.0.0.1:3000/admin", { auth: { token: "alice-token" } });
//! admin.on("welcome", console.log);                             // → welcome, alice
//! await admin.emitWithAck("stats");                             // → { public: 1, admins: 1 }
//! ```

use serde::{Deserialize, Serialize};
use sockio::server::{ConnectError, SocketIo};

/// What a client of `/admin` sends as `auth`.
#[derive(Deserialize)]
struct Credentials {
    token: String,
}

/// `err.data` of a refusal.
#[derive(Serialize)]
struct Refusal {
    code: u16,
    hint: &'static str,
}

/// The user a token belongs to, kept on the socket by the middleware.
struct User {
    name: String,
}

/// Stands for a real lookup (a database, an identity provider).
async fn user_for(token: &str) -> Option<User> {
    let name = match token {
        "alice-token" => "alice",
        "bob-token" => "bob",
        _ => return None,
    };
    Some(User { name: name.into() })
}

/// Counts for `stats`.
#[derive(Serialize)]
struct Stats {
    public: usize,
    admins: usize,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();

    // `/`: no middleware, everyone gets in.
    io.on_connection(|socket| {
        let _ = socket.emit("welcome", "welcome to /");
    });

    // `/admin`: the middleware runs before the connection completes; an `Err` refuses it.
    let admin = io.of("/admin");
    admin.middleware(|socket| async move {
        let Ok(Credentials { token }) = socket.auth_as::<Credentials>() else {
            return Err(ConnectError::new("not authorized").with_data(Refusal {
                code: 4001,
                hint: "send auth.token",
            }));
        };
        let Some(user) = user_for(&token).await else {
            return Err(ConnectError::new("not authorized").with_data(Refusal {
                code: 4003,
                hint: "unknown token",
            }));
        };
        socket.insert_extension(user); // server-side only, typed; never sent to clients
        Ok(())
    });

    let public = io.of("/");
    admin.on_connection(move |socket| {
        let name = socket
            .extension::<User>()
            .map(|user| user.name.clone())
            .unwrap_or_default();
        let _ = socket.emit("welcome", format!("welcome, {name}"));

        // A namespace is a cheap handle: this one counts, from `/admin`, the sockets of
        // `/` on this server.
        let public = public.clone();
        socket.on("stats", move |socket, mut event| {
            let _ = event.ack(Stats {
                public: public.len(),
                admins: socket.namespace().len(),
            });
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
