//! [`Handshake`]: what a session keeps of the request that opened it.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Uri};

/// The peer address of a connection, put in request extensions by [`crate::serve`].
/// Behind axum, `axum::extract::ConnectInfo<SocketAddr>` is read as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The request that opened a session: headers, URL (with its query), peer address and time.
///
/// Only these parts are kept — not the request — so an idle session stays small: the
/// request head is kept as the one buffer it was read into, and its headers are parsed
/// from it when [`Handshake::headers`] is first called (a [`HeaderMap`] of a few headers
/// costs ~600 bytes; most applications never look).
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The request head (request line and header lines), or empty when `headers` was
    /// given as a map.
    head: Bytes,
    headers: OnceLock<Box<HeaderMap>>,
    /// Request URL (path and query).
    pub uri: Uri,
    /// Peer address, when the server knows it.
    pub remote_addr: Option<SocketAddr>,
    /// When the session opened.
    pub issued: SystemTime,
}

impl Handshake {
    /// A handshake of these parts.
    pub fn new(
        headers: HeaderMap,
        uri: Uri,
        remote_addr: Option<SocketAddr>,
        issued: SystemTime,
    ) -> Self {
        Self {
            head: Bytes::new(),
            headers: OnceLock::from(Box::new(headers)),
            uri,
            remote_addr,
            issued,
        }
    }

    /// A handshake whose headers are those of the HTTP/1 request head `head`, parsed on
    /// first use.
    pub(crate) fn from_head(
        head: Bytes,
        uri: Uri,
        remote_addr: Option<SocketAddr>,
        issued: SystemTime,
    ) -> Self {
        Self {
            head,
            headers: OnceLock::new(),
            uri,
            remote_addr,
            issued,
        }
    }

    /// Request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
            .get_or_init(|| Box::new(parse_headers(&self.head)))
    }

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

/// The headers of the request head `head`; their values share its buffer.
fn parse_headers(head: &Bytes) -> HeaderMap {
    let mut room = 64;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; room];
        let mut parsed = httparse::Request::new(&mut slots);
        match parsed.parse(head) {
            Ok(_) => {
                let mut headers = HeaderMap::with_capacity(parsed.headers.len());
                for h in parsed.headers.iter() {
                    let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(h.name.as_bytes()),
                        HeaderValue::from_maybe_shared(head.slice_ref(h.value)),
                    ) else {
                        continue;
                    };
                    headers.append(name, value);
                }
                return headers;
            }
            Err(httparse::Error::TooManyHeaders) if room < 8192 => room *= 8,
            Err(_) => return HeaderMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_parsed_from_the_head_on_first_use() {
        let head = Bytes::from_static(
            b"GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nx-two: 2\r\n\r\n",
        );
        let hs = Handshake::from_head(
            head,
            Uri::from_static("/socket.io/?EIO=4"),
            None,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(hs.headers()["host"], "a");
        let two: Vec<_> = hs.headers().get_all("x-two").iter().collect();
        assert_eq!(two, ["1", "2"]);
        assert_eq!(hs.clone().headers().len(), 3);

        let many: String = (0..300).map(|i| format!("h{i}: {i}\r\n")).collect();
        let head = Bytes::from(format!("GET / HTTP/1.1\r\n{many}\r\n"));
        let hs = Handshake::from_head(head, Uri::from_static("/"), None, SystemTime::UNIX_EPOCH);
        assert_eq!(hs.headers().len(), 300);
        assert_eq!(hs.headers()["h299"], "299");
    }
}
