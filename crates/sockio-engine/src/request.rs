//! Reading an Engine.IO request: its query, its headers, and what a session keeps of it.

use std::borrow::Cow;
use std::time::SystemTime;

use http::header::{self, HeaderMap, HeaderValue};
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

/// Marks a request whose header values and target already share one buffer of their
/// own (see `direct`): its session keeps them as they are instead of copying them.
#[derive(Clone, Copy)]
pub(crate) struct CompactHead;

/// What a session keeps of its request: its parts when they are compact, a copy
/// otherwise ([`handshake_of`]).
pub(crate) fn handshake_from<B>(req: Request<B>) -> Handshake {
    if req.extensions().get::<CompactHead>().is_none() {
        return handshake_of(&req);
    }
    let remote_addr = req.extensions().get::<RemoteAddr>().map(|a| a.0);
    let (parts, _) = req.into_parts();
    Handshake {
        headers: parts.headers,
        uri: parts.uri,
        remote_addr,
        issued: SystemTime::now(),
    }
}

/// What a session keeps of its request. Headers and URI are copied into allocations of
/// their own: hyper's parsed values share its 8 KiB read buffer, which a plain clone
/// would keep alive for the whole life of the session.
pub(crate) fn handshake_of<B>(req: &Request<B>) -> Handshake {
    // hyper's header values and URL share its read buffer; kept as they are, they would
    // keep that whole buffer alive for the session. They are copied into one buffer of
    // their own instead (header names are already copies).
    let target = req.uri().path_and_query().map_or("", |pq| pq.as_str());
    let values_len: usize = req.headers().values().map(|v| v.len()).sum();
    let mut buf = bytes::BytesMut::with_capacity(values_len + target.len());
    for value in req.headers().values() {
        buf.extend_from_slice(value.as_bytes());
    }
    buf.extend_from_slice(target.as_bytes());
    let buf = buf.freeze();
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    let mut at = 0;
    for (name, value) in req.headers() {
        let end = at + value.len();
        let copy = HeaderValue::from_maybe_shared(buf.slice(at..end))
            .map(|mut v| {
                v.set_sensitive(value.is_sensitive());
                v
            })
            .unwrap_or_else(|_| value.clone());
        headers.append(name.clone(), copy);
        at = end;
    }
    let uri = match req.uri().scheme() {
        // The usual origin-form target (`/engine.io/?EIO=4&…`).
        None => Uri::from_maybe_shared(buf.slice(at..)).ok(),
        Some(_) => req.uri().to_string().parse().ok(),
    }
    .unwrap_or_else(|| req.uri().clone());
    Handshake {
        headers,
        uri,
        remote_addr: req.extensions().get::<RemoteAddr>().map(|a| a.0),
        issued: SystemTime::now(),
    }
}
