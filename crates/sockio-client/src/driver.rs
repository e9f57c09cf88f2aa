//! Runs one [`EngineClient`] session with tokio: performs its actions and feeds their
//! outcomes back. The WebSocket lives here, polled by the connection's task itself (no
//! task or channel of its own); HTTP requests run in their own tasks, whose outcomes come
//! back through a queue made the first time one is sent.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use sockio_protocol::engine::{Message, ProtocolVersion};
use tokio::task::AbortHandle;

use crate::engine::{
    Action, EngineClient, EngineEvent, EngineOptions, Input, TransportError, TransportKind, WsFrame,
};
use crate::queue;
use crate::transport::{Endpoint, Stream};
use crate::ws::{ClientWs, WsEvent};

type Opening = Pin<Box<dyn Future<Output = Result<ClientWs<Stream>, TransportError>> + Send>>;

/// The session's WebSocket.
enum Ws {
    None,
    /// Connecting and handshaking (boxed: that future is large and short-lived).
    Opening(Opening),
    /// Open; frames to send are queued in it, written when the task next polls it.
    Open(ClientWs<Stream>),
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
                    self.ws = Ws::Open(ws);
                    Poll::Ready(Input::WsOpen)
                }
                Poll::Ready(Err(e)) => {
                    self.ws = Ws::None;
                    Poll::Ready(Input::WsClosed(Some(e)))
                }
            },
            Ws::Open(ws) => {
                // Our frames (and a flush a TLS stream may have pending) leave first.
                if let Poll::Ready(Err(e)) = ws.poll_flush(cx) {
                    self.ws = Ws::None;
                    return Poll::Ready(Input::WsClosed(Some(TransportError::WebSocket(
                        e.to_string(),
                    ))));
                }
                let input = match ws.poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(WsEvent::Text(t)) => return Poll::Ready(Input::WsText(t)),
                    Poll::Ready(WsEvent::Binary(b)) => return Poll::Ready(Input::WsBinary(b)),
                    // A close frame, or the server went away without one: a close, as
                    // socket.io-client sees it.
                    Poll::Ready(WsEvent::Closed) => Input::WsClosed(None),
                    Poll::Ready(WsEvent::Failed(e)) => {
                        Input::WsClosed(Some(TransportError::WebSocket(e)))
                    }
                };
                // Our answer (a close frame) goes out before the connection does.
                if let Ws::Open(ws) = std::mem::replace(&mut self.ws, Ws::None) {
                    finish(ws);
                }
                Poll::Ready(input)
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
                    if let Ws::Open(ws) = &mut self.ws {
                        match frame {
                            WsFrame::Text(t) => ws.send_text(t.as_str()),
                            WsFrame::Binary(b) => ws.send_binary(&b),
                        }
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

    /// Closes the WebSocket (one being opened is abandoned): our close frame, after the
    /// frames still queued, is written by a short task of its own, the session is done
    /// with it.
    fn ws_close(&mut self) {
        if let Ws::Open(mut ws) = std::mem::replace(&mut self.ws, Ws::None) {
            ws.send_close(None);
            finish(ws);
        }
    }
}

/// Writes what `ws` still has queued (a close frame), then lets the connection go, in a
/// short task of its own.
fn finish(mut ws: ClientWs<Stream>) {
    if !ws.has_output() {
        return;
    }
    // Without a runtime (it is shutting down) the connection just goes.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), ws.finish()).await;
    });
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
