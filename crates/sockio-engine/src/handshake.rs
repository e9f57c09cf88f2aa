//! [`Handshake`]: what a session keeps of the request that opened it.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::{HeaderMap, Uri};

/// The peer address of a connection, put in request extensions by [`crate::serve`].
/// Behind axum, `axum::extract::ConnectInfo<SocketAddr>` is read as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The request that opened a session: headers, URL (with its query), peer address and time.
///
/// Only these parts are kept — not the request — so an idle session stays small.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Request headers.
    pub headers: HeaderMap,
    /// Request URL (path and query).
    pub uri: Uri,
    /// Peer address, when the server knows it.
    pub remote_addr: Option<SocketAddr>,
    /// When the session opened.
    pub issued: SystemTime,
}

impl Handshake {
    /// The raw query string (without `?`).
    pub fn query_string(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    /// The decoded query parameters, in order.
    pub fn query(&self) -> impl Iterator<Item = (String, String)> + '_ {
        sockio_protocol::urlencoded::pairs(self.query_string())
    }

    /// The first query parameter named `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        sockio_protocol::urlencoded::get(self.query_string(), name)
    }

    /// Milliseconds since the Unix epoch at which the session opened (`handshake.issued`).
    pub fn issued_ms(&self) -> u64 {
        self.issued
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
