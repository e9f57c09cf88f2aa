//! A client that vanishes: a raw Engine.IO v4 WebSocket that joins `/`, emits a few
//! messages with acknowledgements, then stops reading and answering pings without
//! closing anything, as a peer whose network went away would. The server must find it
//! with its ping timeout and clean up; the driver drops the TCP connection only after.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let t = t.as_str().to_owned();
                if t == "2" {
                    // The server's ping: answered while the client still lives.
                    ws.send(Message::text("3"))
                        .await
                        .map_err(|e| e.to_string())?;
                    continue;
                }
                return Ok(t);
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".into()),
        }
    }
}

/// One ghost life: `count` messages from `first_seq` on; returns the sequence numbers
/// acknowledged. Holds the silent connection for `hold` before dropping it.
pub async fn ghost(
    port: u16,
    tag: usize,
    first_seq: u64,
    count: u64,
    hold: Duration,
) -> Result<Vec<u64>, String> {
    let wait = Duration::from_secs(10);
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio::time::timeout(wait, tokio_tungstenite::client_async(url, stream))
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let open = tokio::time::timeout(wait, next_text(&mut ws))
        .await
        .map_err(|_| "no open packet".to_string())??;
    if !open.starts_with('0') {
        return Err(format!("expected an open packet, got {open:?}"));
    }
    ws.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let t = tokio::time::timeout(wait, next_text(&mut ws))
            .await
            .map_err(|_| "no CONNECT answer".to_string())??;
        if t.starts_with("40") {
            break;
        }
    }
    let mut acked = Vec::new();
    for (id, seq) in (first_seq..first_seq + count).enumerate() {
        ws.send(Message::text(format!("42{id}[\"msg\",{tag},{seq}]")))
            .await
            .map_err(|e| e.to_string())?;
        let want = format!("43{id}[{seq}]");
        loop {
            let t = tokio::time::timeout(wait, next_text(&mut ws))
                .await
                .map_err(|_| "no ack".to_string())??;
            if t == want {
                acked.push(seq);
                break;
            }
        }
    }
    // Gone silent: nothing read, no pong, no close.
    tokio::time::sleep(hold).await;
    drop(ws);
    Ok(acked)
}
