//! `ceiling-server`: the physical limit of this stack for the benchmark of
//! `docs/benchmark-contract.md`.
//!
//! Raw tokio + tokio-tungstenite, no Socket.IO and no Engine.IO state machine: it accepts a
//! WebSocket upgrade on any path, sends a fixed Engine.IO open packet, and answers the
//! contract's frames by string prefix:
//!
//! | client sends                | server sends                                   |
//! | --------------------------- | ---------------------------------------------- |
//! | `40` (or `40{…}`)           | `40{"sid":"…"}`                                |
//! | `42<id>["join",…]`          | joins room `bench`; `43<id>["ok"]` if `<id>`   |
//! | `42["broadcast",PAYLOAD]`   | `42["msg",PAYLOAD]` to every member of `bench` |
//! | `42<id>["echo",PAYLOAD]`    | `43<id>[PAYLOAD]`                              |
//!
//! It never pings. One task per connection; room members get broadcast frames through an
//! unbounded channel of shared `Utf8Bytes` (the frame is built once per broadcast), and each
//! task writes whatever is queued with `feed` and a single `flush`.

use std::future::pending;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// Read buffer of each connection (tungstenite allocates it eagerly; its default is 128 KiB).
const READ_BUFFER_SIZE: usize = 4 * 1024;

type Ws = WebSocketStream<TcpStream>;

struct Shared {
    /// Room `bench`: one sender per member connection.
    room: RwLock<Vec<UnboundedSender<Utf8Bytes>>>,
    next_id: AtomicU64,
}

impl Shared {
    fn join(&self, tx: UnboundedSender<Utf8Bytes>) {
        self.room.write().unwrap().push(tx);
    }

    fn leave(&self, tx: &UnboundedSender<Utf8Bytes>) {
        self.room.write().unwrap().retain(|m| !m.same_channel(tx));
    }

    fn broadcast(&self, frame: Utf8Bytes) {
        let mut dead = false;
        {
            let room = self.room.read().unwrap();
            for member in room.iter() {
                dead |= member.send(frame.clone()).is_err();
            }
        }
        if dead {
            self.room.write().unwrap().retain(|m| !m.is_closed());
        }
    }
}

/// A 20-character id: a one-letter kind and the connection number.
fn sid(kind: char, n: u64) -> String {
    format!("{kind}{n:019}")
}

/// Per-connection state.
struct Conn {
    n: u64,
    /// Set once the connection joined the room.
    member: Option<(UnboundedSender<Utf8Bytes>, UnboundedReceiver<Utf8Bytes>)>,
}

impl Conn {
    /// Handles one text frame from the client; returns the reply to write, if any.
    fn on_text(&mut self, text: &str, shared: &Shared) -> Option<Utf8Bytes> {
        let Some(rest) = text.strip_prefix("42") else {
            if text == "40" || text.starts_with("40{") {
                return Some(format!(r#"40{{"sid":"{}"}}"#, sid('s', self.n)).into());
            }
            return None; // `3` (pong) or anything out of scope.
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (id, body) = rest.split_at(digits);
        if let Some(payload) = body.strip_prefix(r#"["broadcast","#) {
            // `payload` still ends with the array's `]`.
            let mut frame = String::with_capacity(payload.len() + 8);
            frame.push_str(r#"42["msg","#);
            frame.push_str(payload);
            shared.broadcast(frame.into());
            None
        } else if let Some(payload) = body.strip_prefix(r#"["echo","#) {
            if id.is_empty() {
                return None;
            }
            let mut reply = String::with_capacity(payload.len() + id.len() + 3);
            reply.push_str("43");
            reply.push_str(id);
            reply.push('[');
            reply.push_str(payload);
            Some(reply.into())
        } else if body.starts_with(r#"["join""#) {
            if self.member.is_none() {
                let (tx, rx) = mpsc::unbounded_channel();
                shared.join(tx.clone());
                self.member = Some((tx, rx));
            }
            if id.is_empty() {
                return None;
            }
            Some(format!(r#"43{id}["ok"]"#).into())
        } else {
            None
        }
    }

    /// Handles one WebSocket message; `Err` ends the connection. Replies are fed, not flushed.
    async fn on_message(
        &mut self,
        msg: Message,
        shared: &Shared,
        ws: &mut Ws,
        dirty: &mut bool,
    ) -> Result<(), ()> {
        match msg {
            Message::Text(text) => {
                if let Some(reply) = self.on_text(text.as_str(), shared) {
                    ws.feed(Message::Text(reply)).await.map_err(drop)?;
                    *dirty = true;
                }
                Ok(())
            }
            Message::Close(_) => Err(()),
            // Pings are answered by tungstenite on the next write or flush.
            Message::Ping(_) => {
                *dirty = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

async fn recv(
    member: &mut Option<(UnboundedSender<Utf8Bytes>, UnboundedReceiver<Utf8Bytes>)>,
) -> Option<Utf8Bytes> {
    match member {
        Some((_, rx)) => rx.recv().await,
        None => pending().await,
    }
}

async fn serve(tcp: TcpStream, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_SIZE);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let open = format!(
        r#"0{{"sid":"{}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#,
        sid('e', n)
    );
    if ws.send(Message::text(open)).await.is_ok() {
        let mut conn = Conn { n, member: None };
        let _ = run(&mut conn, &mut ws, &shared).await;
        if let Some((tx, _)) = &conn.member {
            shared.leave(tx);
        }
    }
}

async fn run(conn: &mut Conn, ws: &mut Ws, shared: &Shared) -> Result<(), ()> {
    loop {
        let mut dirty = false;
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { return Err(()) };
                conn.on_message(msg, shared, ws, &mut dirty).await?;
                // Handle every frame already received before flushing the replies once.
                while let Some(next) = ws.next().now_or_never() {
                    let Some(Ok(msg)) = next else { return Err(()) };
                    conn.on_message(msg, shared, ws, &mut dirty).await?;
                }
            }
            Some(frame) = recv(&mut conn.member) => {
                ws.feed(Message::Text(frame)).await.map_err(drop)?;
                let (_, rx) = conn.member.as_mut().expect("member");
                while let Ok(frame) = rx.try_recv() {
                    ws.feed(Message::Text(frame)).await.map_err(drop)?;
                }
                dirty = true;
            }
        }
        if dirty {
            ws.flush().await.map_err(drop)?;
        }
    }
}

#[tokio::main]
async fn main() {
    let port = sockio_bench_ceiling::port();
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        }
    };
    eprintln!("ceiling-server (raw tokio-tungstenite) listening on 127.0.0.1:{port}");
    let shared = Arc::new(Shared {
        room: RwLock::new(Vec::new()),
        next_id: AtomicU64::new(0),
    });

    let accept = async {
        let mut reported = false;
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    tokio::spawn(serve(tcp, shared.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: report once, back off a little.
                    if !reported {
                        eprintln!("accept error: {e}");
                        reported = true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
    };
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        () = accept => {}
        _ = sigterm.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::exit(0)
}
