//! Runs one [`EngineClient`] session with tokio: performs its actions and feeds their
//! outcomes back. The WebSocket lives here, polled by the connection's task itself (no
//! task or channel of its own); HTTP requests run in their own tasks, whose outcomes come
//! back through a queue made the first time one is sent.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{Sink, SinkExt, Stream as _};
use sockio_protocol::engine::{Message, ProtocolVersion};
use sockio_protocol::Utf8Bytes;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use crate::engine::{
    Action, EngineClient, EngineEvent, EngineOptions, Input, TransportError, TransportKind, WsFrame,
};
use crate::queue;
use crate::transport::{Endpoint, Stream};

type Opening =
    Pin<Box<dyn Future<Output = Result<WebSocketStream<Stream>, TransportError>> + Send>>;

/// The session's WebSocket.
enum Ws {
    None,
    /// Connecting and handshaking (boxed: that future is large and short-lived).
    Opening(Opening),
    /// Open; `out` holds the frames not yet handed to it.
    Open {
        ws: Box<WebSocketStream<Stream>>,
        out: VecDeque<WsMessage>,
    },
}

/// One Engine.IO session, its WebSocket and its HTTP requests' tasks.
pub(crate) struct EngineDriver {
    machine: EngineClient,
    endpoint: Endpoint,
    version: ProtocolVersion,
    ws: Ws,
    /// The outcomes of HTTP requests (made with the first request).
    io: Option<(queue::Sender<Input>, queue::Receiver<Input>)>,
    polls: Vec<AbortHandle>,
    counter: u64,
}

pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl EngineDriver {
    /// Starts a session; the returned events are the first ones.
    pub fn start(opts: EngineOptions, endpoint: Endpoint) -> (EngineDriver, Vec<EngineEvent>) {
        let version = opts.version;
        let mut driver = EngineDriver {
            machine: EngineClient::new(opts),
            endpoint,
            version,
            ws: Ws::None,
            io: None,
            polls: Vec::new(),
            counter: 0,
        };
        let events = driver.handle(Input::Connect);
        (driver, events)
    }

    /// The next transport outcome, if one is ready (else `cx` is woken when there is).
    pub fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<Input> {
        if let Some((_, rx)) = &mut self.io {
            if let Poll::Ready(Some(input)) = rx.poll_recv(cx) {
                return Poll::Ready(input);
            }
        }
        match &mut self.ws {
            Ws::None => Poll::Pending,
            Ws::Opening(opening) => match opening.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(ws)) => {
                    self.ws = Ws::Open {
                        ws: Box::new(ws),
                        out: VecDeque::new(),
                    };
                    Poll::Ready(Input::WsOpen)
                }
                Poll::Ready(Err(e)) => {
                    self.ws = Ws::None;
                    Poll::Ready(Input::WsClosed(Some(e)))
                }
            },
            Ws::Open { ws, out } => {
                if let Err(e) = write(ws, out, cx) {
                    self.ws = Ws::None;
                    return Poll::Ready(Input::WsClosed(Some(TransportError::WebSocket(
                        e.to_string(),
                    ))));
                }
                loop {
                    let input = match Pin::new(ws.as_mut()).poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(WsMessage::Text(t)))) => {
                            // Copied: the frame shares the read buffer's allocation.
                            return Poll::Ready(Input::WsText(Utf8Bytes::from(t.as_str())));
                        }
                        Poll::Ready(Some(Ok(WsMessage::Binary(b)))) => {
                            return Poll::Ready(Input::WsBinary(b));
                        }
                        Poll::Ready(Some(Ok(WsMessage::Close(_)))) | Poll::Ready(None) => {
                            Input::WsClosed(None)
                        }
                        // Pings (answered by tungstenite), pongs.
                        Poll::Ready(Some(Ok(_))) => continue,
                        // The peer went away without a close frame: a close, as
                        // socket.io-client sees it.
                        Poll::Ready(Some(Err(WsError::Protocol(
                            ProtocolError::ResetWithoutClosingHandshake,
                        ))))
                        | Poll::Ready(Some(Err(WsError::ConnectionClosed))) => {
                            Input::WsClosed(None)
                        }
                        Poll::Ready(Some(Err(e))) => {
                            Input::WsClosed(Some(TransportError::WebSocket(e.to_string())))
                        }
                    };
                    self.ws = Ws::None;
                    return Poll::Ready(input);
                }
            }
        }
    }

    /// When [`Input::Tick`] is due.
    pub fn deadline(&self) -> Option<Instant> {
        self.machine.next_deadline()
    }

    pub fn sid(&self) -> Option<String> {
        self.machine.handshake().map(|h| h.sid.clone())
    }

    pub fn send(&mut self, message: Message) -> Vec<EngineEvent> {
        self.handle(Input::Send(message))
    }

    /// Feeds an input and carries out the actions; returns the events for the layer above.
    /// Frames to send are queued here and written when the connection's task next polls
    /// [`recv`](Self::recv), right after this.
    pub fn handle(&mut self, input: Input) -> Vec<EngineEvent> {
        let actions = self.machine.handle(input, now());
        let mut events = Vec::new();
        for action in actions {
            match action {
                Action::Poll { sid } => self.poll(sid),
                Action::Post { sid, body } => self.post(sid, body),
                Action::WsConnect { sid } => self.ws_connect(sid),
                Action::WsSend(frame) => {
                    if let Ws::Open { out, .. } = &mut self.ws {
                        out.push_back(match frame {
                            WsFrame::Text(t) => WsMessage::text(t.as_str()),
                            WsFrame::Binary(b) => WsMessage::Binary(b),
                        });
                    }
                }
                Action::WsClose => self.ws_close(),
                Action::Event(e) => events.push(e),
            }
        }
        if self.machine.is_closed() {
            for p in self.polls.drain(..) {
                p.abort();
            }
        }
        events
    }

    fn url(&mut self, transport: TransportKind, sid: Option<&str>) -> String {
        self.counter += 1;
        let mut url = format!(
            "{}?EIO={}&transport={}&t={}",
            self.endpoint.path,
            self.version.as_str(),
            transport.as_str(),
            self.counter
        );
        if self.version == ProtocolVersion::V3 && transport == TransportKind::Polling {
            url.push_str("&b64=1");
        }
        if let Some(sid) = sid {
            url.push_str("&sid=");
            url.push_str(&encode_component(sid));
        }
        if !self.endpoint.query.is_empty() {
            url.push('&');
            url.push_str(&self.endpoint.query);
        }
        url
    }

    fn io_sender(&mut self) -> queue::Sender<Input> {
        self.io.get_or_insert_with(queue::queue).0.clone()
    }

    fn poll(&mut self, sid: Option<String>) {
        let url = self.url(TransportKind::Polling, sid.as_deref());
        let endpoint = self.endpoint.clone();
        let tx = self.io_sender();
        let task = tokio::spawn(async move {
            let input = match endpoint.request(http::Method::GET, &url, None).await {
                Ok((body, binary)) => Input::PollResponse { body, binary },
                Err(e) => Input::PollFailed(e),
            };
            let _ = tx.send(input);
        });
        self.polls.retain(|p| !p.is_finished());
        self.polls.push(task.abort_handle());
    }

    fn post(&mut self, sid: String, body: bytes::Bytes) {
        let url = self.url(TransportKind::Polling, Some(&sid));
        let endpoint = self.endpoint.clone();
        let tx = self.io_sender();
        tokio::spawn(async move {
            let request = endpoint.request(http::Method::POST, &url, Some(body));
            let input =
                match tokio::time::timeout(std::time::Duration::from_secs(30), request).await {
                    Ok(Ok(_)) => Input::PostDone,
                    Ok(Err(e)) => Input::PostFailed(e),
                    Err(_) => Input::PostFailed(TransportError::Timeout),
                };
            let _ = tx.send(input);
        });
    }

    fn ws_connect(&mut self, sid: Option<String>) {
        let url = self.url(TransportKind::WebSocket, sid.as_deref());
        let endpoint = self.endpoint.clone();
        self.ws_close();
        self.ws = Ws::Opening(Box::pin(async move { endpoint.websocket(&url).await }));
    }

    /// Closes the WebSocket (one being opened is abandoned): the close frame is sent by a
    /// short task of its own, the session is done with it.
    fn ws_close(&mut self) {
        if let Ws::Open { mut ws, out } = std::mem::replace(&mut self.ws, Ws::None) {
            // Without a runtime (it is shutting down) the connection just goes.
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            runtime.spawn(async move {
                // The stream itself, not the box (a `Box<Sink>` is a sink too, whose
                // `close` takes no close frame).
                let ws: &mut WebSocketStream<Stream> = &mut ws;
                for m in out {
                    if ws.feed(m).await.is_err() {
                        return;
                    }
                }
                let _ = ws.close(None).await;
            });
        }
    }
}

/// Hands the queued frames to the WebSocket and flushes it, as far as it takes them now.
fn write(
    ws: &mut WebSocketStream<Stream>,
    out: &mut VecDeque<WsMessage>,
    cx: &mut Context<'_>,
) -> Result<(), WsError> {
    if out.is_empty() {
        // Nothing new; finish a flush that was pending (a no-op otherwise).
        return match Pin::new(ws).poll_flush(cx) {
            Poll::Ready(Err(e)) => Err(e),
            _ => Ok(()),
        };
    }
    while !out.is_empty() {
        match Pin::new(&mut *ws).poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => return Ok(()),
        }
        if let Some(m) = out.pop_front() {
            Pin::new(&mut *ws).start_send(m)?;
        }
    }
    // Idle sessions hold no frame queue.
    *out = VecDeque::new();
    match Pin::new(ws).poll_flush(cx) {
        Poll::Ready(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

impl Drop for EngineDriver {
    fn drop(&mut self) {
        for p in self.polls.drain(..) {
            p.abort();
        }
        self.ws_close();
    }
}

/// Percent-encodes a query component like `encodeURIComponent`.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
