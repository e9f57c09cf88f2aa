//! Emitting from a socket: [`Socket::emit`], [`Socket::emit_with_ack`] and the flags
//! of one emission ([`SocketEmitter`]: `volatile`, `timeout`).

use std::future::Future;
use std::time::Duration;

use sockio_protocol::socket::{is_reserved_event, Value};
use tokio::sync::oneshot;

use crate::args::{Args, IntoArgs};
use crate::error::{AckError, EmitError};
use crate::socket::Socket;

impl Socket {
    /// Emits `event` with `args` to this client.
    ///
    /// `args` is one serializable value, or an argument list
    /// ([`args!`](crate::args)`[a, b]`, `args![]`).
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emitter().emit(event, args)
    }

    /// `socket.send(...)`: emits the `message` event.
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Emits `event` and waits for the client's acknowledgement (no time limit; see
    /// [`Socket::timeout`]).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, AckError>> + Send + 'static {
        self.emitter().emit_with_ack(event, args)
    }

    /// Flags the next emission volatile: dropped if the transport cannot write now.
    pub fn volatile(&self) -> SocketEmitter<'_> {
        self.emitter().volatile()
    }

    /// Sets how long [`SocketEmitter::emit_with_ack`] waits.
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter<'_> {
        self.emitter().timeout(timeout)
    }

    fn emitter(&self) -> SocketEmitter<'_> {
        SocketEmitter {
            socket: self,
            volatile: false,
            timeout: None,
        }
    }
}

/// An emission from one socket with flags (`volatile`, `timeout`).
pub struct SocketEmitter<'a> {
    socket: &'a Socket,
    volatile: bool,
    timeout: Option<Duration>,
}

impl SocketEmitter<'_> {
    /// Drop the packet if the transport cannot write right now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// How long [`SocketEmitter::emit_with_ack`] waits for the acknowledgement.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks the event name and tells the outgoing listeners.
    fn prepare(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        if self.socket.has_outgoing_listeners() {
            self.socket.notify_outgoing(event, &args.values());
        }
        Ok(())
    }

    /// Emits `event` with `args`.
    pub fn emit(self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let mut args = args.into_args()?;
        self.prepare(event, &args)?;
        if !self.socket.connected() {
            return Err(EmitError::Disconnected);
        }
        if self.volatile && !self.socket.is_writable() {
            tracing::trace!(id = %self.socket.id(), "volatile packet dropped");
            return Ok(());
        }
        self.socket.send_args(Some(event), None, &mut args)
    }

    /// Emits `event` with `args` and an acknowledgement id — sent at once, like
    /// [`SocketEmitter::emit`] — and resolves to the client's answer, or an error on
    /// timeout or disconnection.
    pub fn emit_with_ack(
        self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, AckError>> + Send + 'static {
        let socket = self.socket.clone();
        let timeout = self.timeout;
        let sent = args
            .into_args()
            .and_then(|args| self.prepare(event, &args).map(|()| args))
            .map_err(AckError::from)
            .and_then(|mut args| {
                if !socket.connected() {
                    return Err(AckError::Disconnected);
                }
                let id = socket.next_ack_id();
                let (tx, rx) = oneshot::channel();
                socket.register_ack(
                    id,
                    Box::new(move |r| {
                        let _ = tx.send(r);
                    }),
                )?;
                if let Err(e) = socket.send_args(Some(event), Some(id), &mut args) {
                    socket.cancel_ack(id);
                    return Err(e.into());
                }
                Ok((id, rx))
            });
        async move {
            let (id, rx) = sent?;
            let answer = match timeout {
                Some(t) => match tokio::time::timeout(t, rx).await {
                    Ok(r) => r,
                    Err(_) => {
                        socket.cancel_ack(id);
                        socket.ack_timed_out();
                        return Err(AckError::Timeout);
                    }
                },
                None => rx.await,
            };
            answer.unwrap_or(Err(AckError::Disconnected))
        }
    }
}
