//! A tiny Socket.IO v5 client over a raw Engine.IO v4 WebSocket, for driving an
//! in-process server from tests: every packet it sends is written by hand (or encoded
//! with the protocol crate), every packet it gets is decoded with
//! `sockio::protocol::socket::Decoder` and kept until a test asks for it.
//!
//! A background task reads the WebSocket: it answers the server's pings (unless told not
//! to), decodes Socket.IO packets and hands them over through a channel. The channel
//! closing means the connection closed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use sockio::protocol::socket::{Decoder, Packet, PacketData, Value};
use sockio::server::IntoArgs;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Ws, Message>;

/// How long the helpers wait when a test does not say.
pub const WAIT: Duration = Duration::from_secs(3);

/// One Socket.IO packet received, with the text of its first Engine.IO message
/// (`4` prefix removed), to check the exact wire form.
#[derive(Debug, Clone)]
pub struct Received {
    pub packet: Packet,
    pub text: String,
}

/// An EVENT received from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    pub nsp: String,
    pub name: String,
    pub args: Vec<Value>,
    /// Set when the server asked for an acknowledgement.
    pub ack_id: Option<u64>,
}

enum Item {
    Packet(Received),
    /// The server sent something the decoder refused.
    Invalid(String),
}

/// The client. Dropping it drops the TCP connection without a WebSocket close frame.
pub struct RawClient {
    sink: Arc<Mutex<Sink>>,
    rx: mpsc::UnboundedReceiver<Item>,
    reader: JoinHandle<()>,
    answer_pings: Arc<AtomicBool>,
    /// Packets received but not asked for yet, in arrival order.
    buffered: VecDeque<Received>,
    closed: bool,
    next_ack: u64,
    /// The Engine.IO handshake (`0{...}`).
    pub handshake: Value,
}

impl Drop for RawClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl RawClient {
    /// Opens an Engine.IO v4 WebSocket session on `addr` (path `/socket.io/`) and reads
    /// the open packet. Joins no namespace.
    pub async fn open(addr: SocketAddr) -> RawClient {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("websocket connect timed out")
            .expect("websocket connect");
        let (sink, mut stream) = ws.split();
        let first = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("no open packet")
            .expect("connection closed before the open packet")
            .expect("websocket error before the open packet");
        let text = match first {
            Message::Text(t) => t.to_string(),
            other => panic!("unexpected first frame {other:?}"),
        };
        let json = text
            .strip_prefix('0')
            .unwrap_or_else(|| panic!("expected an open packet, got {text:?}"));
        let handshake = Value::from_json(json).expect("open packet JSON");

        let sink = Arc::new(Mutex::new(sink));
        let answer_pings = Arc::new(AtomicBool::new(true));
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(stream, sink.clone(), answer_pings.clone(), tx));
        RawClient {
            sink,
            rx,
            reader,
            answer_pings,
            buffered: VecDeque::new(),
            closed: false,
            next_ack: 0,
            handshake,
        }
    }

    /// Opens a session and joins `/`; returns the client and its socket id.
    pub async fn connect_main(addr: SocketAddr) -> (RawClient, String) {
        let mut c = RawClient::open(addr).await;
        let sid = c.connect("/", None).await;
        (c, sid)
    }

    /// The Engine.IO session id.
    pub fn engine_sid(&self) -> String {
        self.handshake
            .get("sid")
            .and_then(Value::as_str)
            .expect("sid in handshake")
            .to_owned()
    }

    /// Whether pings are answered (they are by default).
    pub fn answer_pings(&self, yes: bool) {
        self.answer_pings.store(yes, Ordering::SeqCst);
    }

    // --- sending ---------------------------------------------------------------------

    /// Sends one WebSocket text frame as is (an Engine.IO packet: `4...`, `1`, ...).
    pub async fn send_engine(&mut self, text: &str) {
        let mut sink = self.sink.lock().await;
        sink.send(Message::text(text.to_owned()))
            .await
            .expect("send text frame");
    }

    /// Sends a Socket.IO packet written by hand (`40`, `42["ev"]`, ...) as a message.
    pub async fn send_raw(&mut self, sio_text: &str) {
        self.send_engine(&format!("4{sio_text}")).await;
    }

    /// Encodes and sends a packet, binary attachments included.
    pub async fn send_packet(&mut self, packet: &Packet) {
        let encoded = packet.encode();
        let mut sink = self.sink.lock().await;
        sink.feed(Message::text(format!("4{}", encoded.text)))
            .await
            .expect("send");
        for a in encoded.attachments {
            sink.feed(Message::binary(a))
                .await
                .expect("send attachment");
        }
        sink.flush().await.expect("flush");
    }

    /// Sends CONNECT for `nsp` (with `auth` JSON) without waiting for the answer.
    pub async fn send_connect(&mut self, nsp: &str, auth: Option<&str>) {
        let auth = auth.map(|a| Value::from_json(a).expect("auth JSON"));
        self.send_packet(&Packet::connect(nsp, auth)).await;
    }

    /// Joins `nsp` and returns the socket id; panics on a refusal.
    pub async fn connect(&mut self, nsp: &str, auth: Option<&str>) -> String {
        match self.try_connect(nsp, auth).await {
            Ok(sid) => sid,
            Err(e) => panic!("connection to {nsp} refused: {e}"),
        }
    }

    /// Joins `nsp`: `Ok(socket id)`, or `Err(CONNECT_ERROR payload)`.
    pub async fn try_connect(&mut self, nsp: &str, auth: Option<&str>) -> Result<String, Value> {
        self.send_connect(nsp, auth).await;
        self.connect_answer(nsp, WAIT).await
    }

    /// Waits for the answer to a CONNECT sent earlier.
    pub async fn connect_answer(&mut self, nsp: &str, wait: Duration) -> Result<String, Value> {
        let r = self
            .next_matching(wait, |r| {
                r.packet.nsp == nsp
                    && matches!(
                        r.packet.data,
                        PacketData::Connect(_) | PacketData::ConnectError(_)
                    )
            })
            .await
            .unwrap_or_else(|| panic!("no answer to CONNECT {nsp}"));
        match r.packet.data {
            PacketData::Connect(Some(payload)) => Ok(payload
                .get("sid")
                .and_then(Value::as_str)
                .expect("sid in CONNECT answer")
                .to_owned()),
            PacketData::Connect(None) => panic!("CONNECT answer without payload"),
            PacketData::ConnectError(e) => Err(e),
            _ => unreachable!(),
        }
    }

    /// Sends DISCONNECT for `nsp`.
    pub async fn disconnect(&mut self, nsp: &str) {
        self.send_packet(&Packet::disconnect(nsp)).await;
    }

    /// Emits an event (no acknowledgement).
    pub async fn emit(&mut self, nsp: &str, event: &str, args: impl IntoArgs) {
        let args = args.into_args().expect("arguments").into_values();
        self.send_packet(&Packet::event(nsp, event, args)).await;
    }

    /// Emits an event asking for an acknowledgement; returns the ack id.
    pub async fn emit_ack_id(&mut self, nsp: &str, event: &str, args: impl IntoArgs) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let args = args.into_args().expect("arguments").into_values();
        self.send_packet(&Packet::event(nsp, event, args).with_id(id))
            .await;
        id
    }

    /// Emits an event with an acknowledgement and waits for the answer.
    pub async fn emit_with_ack(
        &mut self,
        nsp: &str,
        event: &str,
        args: impl IntoArgs,
        wait: Duration,
    ) -> Vec<Value> {
        let id = self.emit_ack_id(nsp, event, args).await;
        self.next_ack(nsp, id, wait)
            .await
            .unwrap_or_else(|| panic!("no ack {id} for {event:?}"))
    }

    /// Answers the server's acknowledgement `id`.
    pub async fn ack(&mut self, nsp: &str, id: u64, args: impl IntoArgs) {
        let args = args.into_args().expect("arguments").into_values();
        self.send_packet(&Packet::ack(nsp, id, args)).await;
    }

    /// Closes the WebSocket politely (close frame).
    pub async fn close_ws(&mut self) {
        let mut sink = self.sink.lock().await;
        let _ = sink.close().await;
    }

    // --- receiving -------------------------------------------------------------------

    async fn recv_until(&mut self, deadline: Instant) -> Option<Received> {
        if self.closed {
            return None;
        }
        match timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(Item::Packet(r))) => Some(r),
            Ok(Some(Item::Invalid(e))) => panic!("the server sent an invalid packet: {e}"),
            Ok(None) => {
                self.closed = true;
                None
            }
            Err(_) => None,
        }
    }

    /// The first packet (buffered or new) `pred` accepts, within `wait`; the others stay
    /// buffered in order.
    pub async fn next_matching(
        &mut self,
        wait: Duration,
        mut pred: impl FnMut(&Received) -> bool,
    ) -> Option<Received> {
        if let Some(i) = self.buffered.iter().position(&mut pred) {
            return self.buffered.remove(i);
        }
        let deadline = Instant::now() + wait;
        loop {
            let r = self.recv_until(deadline).await?;
            if pred(&r) {
                return Some(r);
            }
            self.buffered.push_back(r);
        }
    }

    /// The next packet, whatever it is.
    pub async fn next_packet(&mut self, wait: Duration) -> Option<Received> {
        self.next_matching(wait, |_| true).await
    }

    /// The next event `name` (any namespace).
    pub async fn next_event(&mut self, name: &str, wait: Duration) -> Option<ServerEvent> {
        self.next_matching(wait, |r| r.packet.event_name() == Some(name))
            .await
            .map(to_event)
    }

    /// The next event `name` in namespace `nsp`.
    pub async fn next_event_in(
        &mut self,
        nsp: &str,
        name: &str,
        wait: Duration,
    ) -> Option<ServerEvent> {
        self.next_matching(wait, |r| {
            r.packet.nsp == nsp && r.packet.event_name() == Some(name)
        })
        .await
        .map(to_event)
    }

    /// The event `name`, or a panic saying it did not come.
    pub async fn expect_event(&mut self, name: &str) -> ServerEvent {
        self.next_event(name, WAIT)
            .await
            .unwrap_or_else(|| panic!("event {name:?} not received"))
    }

    /// The ACK with id `id` in `nsp`: its arguments.
    pub async fn next_ack(&mut self, nsp: &str, id: u64, wait: Duration) -> Option<Vec<Value>> {
        let r = self
            .next_matching(wait, |r| {
                r.packet.nsp == nsp
                    && r.packet.id == Some(id)
                    && matches!(r.packet.data, PacketData::Ack { .. })
            })
            .await?;
        match r.packet.data {
            PacketData::Ack { args } => Some(args),
            _ => unreachable!(),
        }
    }

    /// The next DISCONNECT packet for `nsp`.
    pub async fn next_disconnect(&mut self, nsp: &str, wait: Duration) -> bool {
        self.next_matching(wait, |r| {
            r.packet.nsp == nsp && r.packet.data == PacketData::Disconnect
        })
        .await
        .is_some()
    }

    /// Asserts no Socket.IO packet arrives (and none is buffered) for `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) {
        if let Some(r) = self.buffered.pop_front() {
            panic!("unexpected packet {:?}", r.text);
        }
        let deadline = Instant::now() + wait;
        if let Some(r) = self.recv_until(deadline).await {
            panic!("unexpected packet {:?}", r.text);
        }
    }

    /// Waits for the server to close the connection; returns the packets that came
    /// first (buffered ones included). `None` if it is still open after `wait`.
    pub async fn wait_closed(&mut self, wait: Duration) -> Option<Vec<Received>> {
        let deadline = Instant::now() + wait;
        let mut seen: Vec<Received> = self.buffered.drain(..).collect();
        while !self.closed {
            match self.recv_until(deadline).await {
                Some(r) => seen.push(r),
                None if self.closed => break,
                None => return None,
            }
        }
        Some(seen)
    }

    /// Whether the connection is known to be closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

fn to_event(r: Received) -> ServerEvent {
    let Packet { nsp, id, data } = r.packet;
    match data {
        PacketData::Event { event, args } => ServerEvent {
            nsp,
            name: event,
            args,
            ack_id: id,
        },
        other => panic!("not an event: {other:?}"),
    }
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<Ws>,
    sink: Arc<Mutex<Sink>>,
    answer_pings: Arc<AtomicBool>,
    tx: mpsc::UnboundedSender<Item>,
) {
    let mut decoder = Decoder::new();
    let mut first_text: Option<String> = None;
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { break };
        let decoded = match msg {
            Message::Text(t) => {
                let t = t.as_str();
                match t.as_bytes().first() {
                    Some(b'2') => {
                        if answer_pings.load(Ordering::SeqCst) {
                            let pong = format!("3{}", &t[1..]);
                            let _ = sink.lock().await.send(Message::text(pong)).await;
                        }
                        continue;
                    }
                    Some(b'4') => {
                        let text = &t[1..];
                        first_text = Some(text.to_owned());
                        decoder.decode_text(text)
                    }
                    // close (`1`), noop (`6`), anything else: nothing for the tests
                    _ => continue,
                }
            }
            Message::Binary(b) => decoder.decode_binary(b),
            Message::Close(_) => break,
            _ => continue,
        };
        match decoded {
            Ok(Some(packet)) => {
                let text = first_text.take().unwrap_or_default();
                if tx.send(Item::Packet(Received { packet, text })).is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = tx.send(Item::Invalid(e.to_string()));
                break;
            }
        }
    }
}
