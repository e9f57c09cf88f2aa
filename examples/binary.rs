//! Binary payloads both ways: `bytes::Bytes` fields in serde structs travel as binary
//! attachments (a `Buffer` / `ArrayBuffer` on the client) next to the text fields, as
//! Node's socket.io sends Buffers. The serde feature of `bytes` must be on.
//!
//! ```text
//! cargo run --example binary    # PORT=4000 to change the port, PORT=0 for any free one
//! ```
//!
//! Then, with socket.io-client (Node or a browser):
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("file", ({ name, data }) => console.log(name, data)); // greeting.bin <Buffer de ad be ef>
//! const reply = await socket.emitWithAck("upload", { name: "a.bin", data: Buffer.from([1, 2, 3]) });
//! // → { name: "a.bin", size: 3, reversed: <Buffer 03 02 01> }
//! ```

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sockio::server::SocketIo;

/// A file, both ways: `data` is binary on the wire, `name` is text.
#[derive(Serialize, Deserialize)]
struct File {
    name: String,
    data: Bytes,
}

/// The answer to an upload: its size and its bytes reversed (binary again).
#[derive(Serialize)]
struct Receipt {
    name: String,
    size: usize,
    reversed: Bytes,
}

/// Or why the upload was refused.
#[derive(Serialize)]
struct Refused {
    error: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();

    io.on_connection(|socket| {
        // Server → client: an event whose argument holds bytes.
        let greeting = File {
            name: "greeting.bin".into(),
            data: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
        };
        if let Err(e) = socket.emit("file", &greeting) {
            eprintln!("could not greet {}: {e}", socket.id());
        }

        // Client → server, answered with bytes in the acknowledgement.
        socket.on("upload", |_, mut event| {
            let _ = match event.arg::<File>(0) {
                Ok(File { name, data }) => {
                    let mut reversed = data.to_vec();
                    reversed.reverse();
                    event.ack(Receipt {
                        name,
                        size: data.len(),
                        reversed: Bytes::from(reversed),
                    })
                }
                Err(e) => event.ack(Refused {
                    error: format!("expected {{ name, data }}: {e}"),
                }),
            };
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
