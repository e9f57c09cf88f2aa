//! [`WsIo`]: the byte stream under a WebSocket session.
//!
//! hyper hands an upgraded connection over as [`Upgraded`], a boxed stream behind a
//! "rewind" buffer, so every read and write of a long-lived WebSocket would go through two
//! extra layers. When the connection is a plain tokio `TcpStream` (our `serve`, and axum's
//! default server), it is taken back out of hyper and used directly; any bytes hyper had
//! already read past the HTTP request are served first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The connection of a WebSocket session.
pub(crate) enum WsIo {
    /// The TCP stream itself, and what hyper read of it beyond the request.
    Tcp { stream: TcpStream, unread: Bytes },
    /// Any other transport, through hyper.
    Upgraded(TokioIo<Upgraded>),
}

impl WsIo {
    /// The stream under `upgraded`, taken out of hyper when it is a `TcpStream`.
    pub(crate) fn new(upgraded: Upgraded) -> Self {
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => WsIo::Tcp {
                stream: parts.io.into_inner(),
                // A copy (usually of nothing): the slice would keep hyper's whole read
                // buffer alive for the life of the connection.
                unread: Bytes::copy_from_slice(&parts.read_buf),
            },
            Err(upgraded) => WsIo::Upgraded(TokioIo::new(upgraded)),
        }
    }
}

impl WsIo {
    /// Writes what the socket takes now, without waiting: `WouldBlock` when it takes
    /// nothing (always, through hyper).
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WsIo::Tcp { stream, .. } => stream.try_write(buf),
            WsIo::Upgraded(_) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp { stream, unread } => {
                if unread.has_remaining() {
                    let n = unread.len().min(buf.remaining());
                    buf.put_slice(&unread[..n]);
                    unread.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Pin::new(stream).poll_read(cx, buf)
            }
            WsIo::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp { stream, .. } => Pin::new(stream).poll_write(cx, buf),
            WsIo::Upgraded(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp { stream, .. } => Pin::new(stream).poll_write_vectored(cx, bufs),
            WsIo::Upgraded(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WsIo::Tcp { stream, .. } => stream.is_write_vectored(),
            WsIo::Upgraded(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp { stream, .. } => Pin::new(stream).poll_flush(cx),
            WsIo::Upgraded(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp { stream, .. } => Pin::new(stream).poll_shutdown(cx),
            WsIo::Upgraded(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}
