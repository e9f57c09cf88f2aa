//! Runs one [`EngineClient`] session with tokio: performs its actions (HTTP requests and
//! WebSocket connections in their own tasks) and feeds their outcomes back.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use sockio_protocol::engine::{Message, ProtocolVersion};
use sockio_protocol::Utf8Bytes;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::engine::{
    Action, EngineClient, EngineEvent, EngineOptions, Input, TransportError, TransportKind, WsFrame,
};
use crate::transport::Endpoint;

enum WsCmd {
    Frame(WsFrame),
    Close,
}

/// One Engine.IO session and its transport tasks.
pub(crate) struct EngineDriver {
    machine: EngineClient,
    endpoint: Endpoint,
    path: String,
    query: String,
    version: ProtocolVersion,
    io_tx: mpsc::UnboundedSender<Input>,
    io_rx: mpsc::UnboundedReceiver<Input>,
    ws_tx: Option<mpsc::UnboundedSender<WsCmd>>,
    polls: Vec<AbortHandle>,
    counter: u64,
}

pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl EngineDriver {
    /// Starts a session; the returned events are the first ones.
    pub fn start(
        opts: EngineOptions,
        endpoint: Endpoint,
        path: String,
        query: String,
    ) -> (EngineDriver, Vec<EngineEvent>) {
        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let version = opts.version;
        let mut driver = EngineDriver {
            machine: EngineClient::new(opts),
            endpoint,
            path,
            query,
            version,
            io_tx,
            io_rx,
            ws_tx: None,
            polls: Vec::new(),
            counter: 0,
        };
        let events = driver.handle(Input::Connect);
        (driver, events)
    }

    /// The next transport outcome (never ends: the driver holds a sender).
    pub async fn recv(&mut self) -> Option<Input> {
        self.io_rx.recv().await
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
    pub fn handle(&mut self, input: Input) -> Vec<EngineEvent> {
        let actions = self.machine.handle(input, now());
        let mut events = Vec::new();
        for action in actions {
            match action {
                Action::Poll { sid } => self.poll(sid),
                Action::Post { sid, body } => self.post(sid, body),
                Action::WsConnect { sid } => self.ws_connect(sid),
                Action::WsSend(frame) => {
                    if let Some(tx) = &self.ws_tx {
                        let _ = tx.send(WsCmd::Frame(frame));
                    }
                }
                Action::WsClose => {
                    if let Some(tx) = self.ws_tx.take() {
                        let _ = tx.send(WsCmd::Close);
                    }
                }
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
            self.path,
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
        if !self.query.is_empty() {
            url.push('&');
            url.push_str(&self.query);
        }
        url
    }

    fn poll(&mut self, sid: Option<String>) {
        let url = self.url(TransportKind::Polling, sid.as_deref());
        let endpoint = self.endpoint.clone();
        let tx = self.io_tx.clone();
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
        let tx = self.io_tx.clone();
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
        let tx = self.io_tx.clone();
        let (ws_tx, mut ws_rx) = mpsc::unbounded_channel();
        self.ws_tx = Some(ws_tx);
        tokio::spawn(async move {
            let ws = tokio::select! {
                ws = endpoint.websocket(&url) => ws,
                // Closed (or abandoned) before it opened.
                _ = wait_closed(&mut ws_rx) => return,
            };
            let ws = match ws {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = tx.send(Input::WsClosed(Some(e)));
                    return;
                }
            };
            if tx.send(Input::WsOpen).is_err() {
                return;
            }
            let (mut sink, mut stream) = ws.split();
            loop {
                tokio::select! {
                    cmd = ws_rx.recv() => match cmd {
                        Some(WsCmd::Frame(WsFrame::Text(t))) => {
                            if let Err(e) = sink.send(WsMessage::text(t.as_str())).await {
                                let _ = tx.send(Input::WsClosed(Some(TransportError::WebSocket(e.to_string()))));
                                return;
                            }
                        }
                        Some(WsCmd::Frame(WsFrame::Binary(b))) => {
                            if let Err(e) = sink.send(WsMessage::Binary(b)).await {
                                let _ = tx.send(Input::WsClosed(Some(TransportError::WebSocket(e.to_string()))));
                                return;
                            }
                        }
                        Some(WsCmd::Close) | None => {
                            let _ = sink.close().await;
                            return;
                        }
                    },
                    msg = stream.next() => match msg {
                        Some(Ok(WsMessage::Text(t))) => {
                            let _ = tx.send(Input::WsText(Utf8Bytes::from(t.as_str().to_owned())));
                        }
                        Some(Ok(WsMessage::Binary(b))) => {
                            let _ = tx.send(Input::WsBinary(b));
                        }
                        Some(Ok(WsMessage::Close(_))) | None => {
                            let _ = tx.send(Input::WsClosed(None));
                            return;
                        }
                        Some(Ok(_)) => {}
                        // The peer went away without a close frame: a close, as
                        // socket.io-client sees it.
                        Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)))
                        | Some(Err(WsError::ConnectionClosed)) => {
                            let _ = tx.send(Input::WsClosed(None));
                            return;
                        }
                        Some(Err(e)) => {
                            let _ = tx.send(Input::WsClosed(Some(TransportError::WebSocket(e.to_string()))));
                            return;
                        }
                    },
                }
            }
        });
    }
}

impl Drop for EngineDriver {
    fn drop(&mut self) {
        for p in self.polls.drain(..) {
            p.abort();
        }
        if let Some(tx) = self.ws_tx.take() {
            let _ = tx.send(WsCmd::Close);
        }
    }
}

async fn wait_closed(rx: &mut mpsc::UnboundedReceiver<WsCmd>) {
    // Frames asked for before the socket opens are not expected (the machine sends only
    // after `WsOpen`); a close or a dropped sender ends the wait.
    loop {
        match rx.recv().await {
            Some(WsCmd::Close) | None => return,
            Some(WsCmd::Frame(_)) => {}
        }
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
