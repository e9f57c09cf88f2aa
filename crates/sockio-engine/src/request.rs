//! Reading an Engine.IO request: its query, its headers, and what a session keeps of it.

use std::borrow::Cow;
use std::time::SystemTime;

use http::header::{self, HeaderMap};
use http::{Request, Uri};

use crate::handshake::{Handshake, RemoteAddr};
use crate::proto::PollingFormat;
use sockio_protocol::engine::ProtocolVersion;

/// The query parameters Engine.IO reads, borrowed from the query where they need no
/// decoding (every request of a session parses one: no allocation for the usual ones).
#[derive(Debug, Default)]
pub(crate) struct EngineQuery<'a> {
    pub(crate) eio: Option<Cow<'a, str>>,
    pub(crate) transport: Option<Cow<'a, str>>,
    pub(crate) sid: Option<Cow<'a, str>>,
    pub(crate) b64: bool,
    pub(crate) j: Option<Cow<'a, str>>,
}

impl<'a> EngineQuery<'a> {
    pub(crate) fn parse(query: Option<&'a str>) -> Self {
        let mut q = Self::default();
        // Names are compared where they lie; values are kept where they lie too.
        for (k, v) in sockio_protocol::urlencoded::pairs_borrowed(query.unwrap_or("")) {
            match &*k {
                "EIO" if q.eio.is_none() => q.eio = Some(v),
                "transport" if q.transport.is_none() => q.transport = Some(v),
                "sid" if q.sid.is_none() => q.sid = Some(v),
                "b64" => q.b64 = true,
                "j" if q.j.is_none() => q.j = Some(v),
                _ => {}
            }
        }
        q
    }
}

pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    upgrade && connection
}

/// A request without its body, for the application's hooks.
pub(crate) fn bare_request<B>(req: &Request<B>) -> Request<()> {
    let mut r = Request::new(());
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.uri().clone();
    *r.version_mut() = req.version();
    *r.headers_mut() = req.headers().clone();
    r
}

/// Whether an `Origin` header value holds only valid header characters (as Node checks).
pub(crate) fn valid_origin(headers: &HeaderMap) -> bool {
    headers.get(header::ORIGIN).is_none_or(|o| {
        o.as_bytes()
            .iter()
            .all(|&b| b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80)
    })
}

pub(crate) fn user_agent_is_ie(headers: &HeaderMap) -> bool {
    headers.get(header::USER_AGENT).is_some_and(|ua| {
        let ua = ua.as_bytes();
        ua.windows(5).any(|w| w == b";MSIE") || ua.windows(8).any(|w| w == b"Trident/")
    })
}

pub(crate) fn polling_format(version: ProtocolVersion, q: &EngineQuery<'_>) -> PollingFormat {
    match version {
        ProtocolVersion::V4 => PollingFormat::V4,
        ProtocolVersion::V3 => match &q.j {
            Some(j) => PollingFormat::V3Jsonp(j.chars().filter(char::is_ascii_digit).collect()),
            None if q.b64 => PollingFormat::V3Text,
            None => PollingFormat::V3Binary,
        },
    }
}

/// The head of a request read by `direct`, in a buffer of its own that its target shares:
/// its session keeps that buffer as it is.
#[derive(Clone)]
pub(crate) struct CompactHead(pub(crate) bytes::Bytes);

/// What a session keeps of its request: its parts when they are compact, a copy
/// otherwise ([`handshake_of`]).
pub(crate) fn handshake_from<B>(req: Request<B>) -> Handshake {
    let Some(CompactHead(head)) = req.extensions().get::<CompactHead>().cloned() else {
        return handshake_of(&req);
    };
    let remote_addr = req.extensions().get::<RemoteAddr>().map(|a| a.0);
    let (parts, _) = req.into_parts();
    Handshake::from_head(head, parts.uri, remote_addr, SystemTime::now())
}

/// What a session keeps of its request: its head written out again into one buffer of
/// its own (hyper's parsed values share its 8 KiB read buffer, which keeping them would
/// keep alive for the whole life of the session), headers parsed back from it on first use.
pub(crate) fn handshake_of<B>(req: &Request<B>) -> Handshake {
    let remote_addr = req.extensions().get::<RemoteAddr>().map(|a| a.0);
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    // Values an HTTP/1 head cannot carry back (control bytes), or a target in another
    // form: the headers are kept as a map.
    let plain = req.uri().scheme().is_none()
        && req.headers().values().all(|v| {
            v.as_bytes()
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        });
    if !plain {
        return Handshake::new(
            req.headers().clone(),
            req.uri().clone(),
            remote_addr,
            SystemTime::now(),
        );
    }
    let len: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let mut head = bytes::BytesMut::with_capacity(len + target.len() + 18);
    head.extend_from_slice(b"GET ");
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in req.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let head = head.freeze();
    let uri = Uri::from_maybe_shared(head.slice(4..4 + target.len()))
        .unwrap_or_else(|_| req.uri().clone());
    Handshake::from_head(head, uri, remote_addr, SystemTime::now())
}
