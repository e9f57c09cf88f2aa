//! Broadcast with acknowledgements: a poll asks every connected client at once and
//! collects their answers; when some don't answer within `VOTING_TIME`, the answers that
//! came are still counted (`BroadcastAckError::responses`).
//!
//! ```text
//! cargo run --example broadcast_acks   # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser), in a few clients:
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("vote", (question, answer) => answer("yes"));  // every client votes…
//! await socket.emitWithAck("poll", "Pizza tonight?");
//! // → { votes: { yes: 3 }, complete: true }, or after 1 s, when a client kept quiet,
//! //   { votes: { yes: 2 }, complete: false }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sockio::server::{SocketIo, Value};

/// How long a poll waits for the votes.
const VOTING_TIME: Duration = Duration::from_secs(1);

/// The outcome of a poll: how many clients voted for each answer, and whether every
/// client voted in time.
#[derive(Serialize)]
struct Tally {
    votes: BTreeMap<String, usize>,
    complete: bool,
}

/// The answer to a `poll` without a question.
#[derive(Serialize)]
struct Refused {
    error: &'static str,
}

/// Counts the votes: each is the first argument a client answered with.
fn count(answers: &[Value]) -> BTreeMap<String, usize> {
    let mut votes = BTreeMap::new();
    for answer in answers {
        // A client may answer anything: only text counts as a vote.
        if let Some(vote) = answer.as_str() {
            *votes.entry(vote.to_owned()).or_insert(0) += 1;
        }
    }
    votes
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();

    io.on_connection(|socket| {
        socket.on_async("poll", |socket, mut event| async move {
            let Ok(question) = event.arg::<String>(0) else {
                let _ = event.ack(Refused {
                    error: "expected a question",
                });
                return;
            };
            let Some(io) = socket.server() else {
                return; // the server is shutting down
            };
            // Every client of `/`, the one asking included. Without `timeout`, the
            // future waits until every client has answered.
            let asked = io.timeout(VOTING_TIME).emit_with_ack("vote", &question);
            let tally = match asked.await {
                Ok(answers) => Tally {
                    votes: count(&answers),
                    complete: true,
                },
                // Timed out, or clients left before answering: count what came.
                Err(e) => {
                    println!("poll {question:?}: {e}");
                    Tally {
                        votes: count(e.responses()),
                        complete: false,
                    }
                }
            };
            let _ = event.ack(tally);
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
