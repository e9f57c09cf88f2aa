//! Acknowledgements both ways: the server answers a client's acknowledgement (`sum`), and
//! asks a client a question waiting at most `ANSWER_WITHIN` for the answer (`quiz`),
//! telling the timeout apart from an answer.
//!
//! ```text
//! cargo run --example acks    # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser):
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! await socket.emitWithAck("sum", [1, 2, 3]);      // → { sum: 6 }
//! socket.on("question", (question, answer) => answer(42)); // leave out answer(…) to see the timeout
//! await socket.emitWithAck("quiz");                // → { answer: 42 }, or after 1 s
//!                                                  //   { error: "operation has timed out" }
//! ```

use std::time::Duration;

use serde::Serialize;
use sockio::server::{from_value, AckError, SocketIo};

/// How long the server waits for a client's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// The acknowledgements of this example: one field, or `error`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    Sum(i64),
    Answer(i64),
    Error(String),
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();

    io.on_connection(|socket| {
        // Client → server: the client passes a callback (or uses `emitWithAck`), the
        // listener answers it with `event.ack(…)`.
        socket.on("sum", |_, mut event| {
            let reply = match event.arg::<Vec<i64>>(0) {
                Ok(numbers) => match numbers.iter().try_fold(0i64, |sum, n| sum.checked_add(*n)) {
                    Some(sum) => Reply::Sum(sum),
                    None => Reply::Error("overflow".into()),
                },
                Err(e) => Reply::Error(format!("expected a list of integers: {e}")),
            };
            // `ack` does nothing when the client asked for no acknowledgement.
            let _ = event.ack(reply);
        });

        // Server → client: `emit_with_ack` resolves to the arguments the client's
        // callback was called with; `timeout` bounds the wait.
        socket.on_async("quiz", |socket, mut event| async move {
            let asked = socket
                .timeout(ANSWER_WITHIN)
                .emit_with_ack("question", "What is 6 × 7?");
            let reply = match asked.await {
                Ok(args) => match args.into_iter().next().map(from_value::<i64>) {
                    Some(Ok(n)) => Reply::Answer(n),
                    _ => Reply::Error("expected a number".into()),
                },
                Err(e @ AckError::Timeout) => {
                    println!("{} did not answer in time", socket.id());
                    Reply::Error(e.to_string()) // "operation has timed out", as in socket.io
                }
                // Disconnected before answering, or the emission failed.
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
