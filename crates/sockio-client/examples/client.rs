//! A small client: connects to a Socket.IO server, prints every event and the lifecycle,
//! emits a message with an acknowledgement, and leaves.
//!
//! ```text
//! cargo run -p sockio-client --example client -- http://localhost:3000/ [websocket|polling] [eio3]
//! ```

use std::time::Duration;

use sockio_client::{ClientBuilder, Event, TransportKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), sockio_client::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://localhost:3000/".to_owned());
    let mut builder = ClientBuilder::new(&url)
        .reconnection_attempts(3)
        .on_any(|ev: Event| println!("event {:?}: {:?}", ev.name, ev.args));
    for flag in args {
        builder = match flag.as_str() {
            "websocket" => builder.transports([TransportKind::WebSocket]),
            "polling" => builder.transports([TransportKind::Polling]),
            "eio3" => builder.eio3(),
            other => {
                eprintln!("unknown option {other:?}");
                return Ok(());
            }
        };
    }
    for name in ["connect", "connect_error", "disconnect"] {
        builder = builder.on(name, move |ev: Event| println!("{name} {:?}", ev.args));
    }
    let socket = builder.connect().await?;
    println!("connected as {:?}", socket.id());
    match socket
        .timeout(Duration::from_secs(2))
        .emit_with_ack("message", "hello from sockio-client")
        .await
    {
        Ok(answer) => println!("acknowledged with {answer:?}"),
        Err(e) => println!("no acknowledgement: {e}"),
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    socket.disconnect();
    Ok(())
}
