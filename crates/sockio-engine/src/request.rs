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

/// How [`EngineQuery::parse_plain`] sorts a query's bytes.
const OTHER: u8 = 0;
const AMPERSAND: u8 = 1;
const EQUALS: u8 = 2;
/// `+` and `%`: something to decode.
const ESCAPE: u8 = 3;
/// Anything a query does not hold unescaped (RFC 3986), which `http::Uri` might not
/// keep as it is (a `#` ends the query there).
const NOT_PLAIN: u8 = 4;

/// The class of every byte.
const CLASSES: [u8; 256] = {
    let mut classes = [NOT_PLAIN; 256];
    let plain = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$'()*,;:@/?";
    let mut i = 0;
    while i < plain.len() {
        classes[plain[i] as usize] = OTHER;
        i += 1;
    }
    classes[b'&' as usize] = AMPERSAND;
    classes[b'=' as usize] = EQUALS;
    classes[b'+' as usize] = ESCAPE;
    classes[b'%' as usize] = ESCAPE;
    classes
};

impl<'a> EngineQuery<'a> {
    pub(crate) fn parse(query: Option<&'a str>) -> Self {
        let query = query.unwrap_or("");
        Self::parse_plain(query.as_bytes()).unwrap_or_else(|| Self::parse_encoded(query))
    }

    /// The query's parameters in one pass over its bytes, names and values kept where
    /// they lie, when it is plain: only bytes a query holds unescaped (RFC 3986), no `+`
    /// or `%` — text `http::Uri` keeps as it is. `None` otherwise. Every request of a
    /// session parses its query: splitting the `str` costs several times this here.
    pub(crate) fn parse_plain(query: &'a [u8]) -> Option<Self> {
        let mut q = Self::default();
        let bytes = query;
        let (mut start, mut eq) = (0, None);
        for (at, &b) in bytes.iter().enumerate() {
            match CLASSES[usize::from(b)] {
                OTHER => {}
                AMPERSAND => {
                    q.take_pair(query, start, eq, at);
                    start = at + 1;
                    eq = None;
                }
                EQUALS => {
                    if eq.is_none() {
                        eq = Some(at);
                    }
                }
                _ => return None,
            }
        }
        q.take_pair(query, start, eq, bytes.len());
        Some(q)
    }

    /// Keeps the pair at `start..end` of the plain `query`, its first `=` at `eq`.
    fn take_pair(&mut self, query: &'a [u8], start: usize, eq: Option<usize>, end: usize) {
        if end == start {
            return;
        }
        let (name, value) = match eq {
            Some(eq) => (query.get(start..eq), query.get(eq + 1..end)),
            None => (query.get(start..end), Some(&b""[..])),
        };
        let (Some(name), Some(value)) = (name, value) else {
            return;
        };
        let slot = match name {
            b"EIO" => &mut self.eio,
            b"transport" => &mut self.transport,
            b"sid" => &mut self.sid,
            b"j" => &mut self.j,
            b"b64" => {
                self.b64 = true;
                return;
            }
            _ => return,
        };
        if slot.is_none() {
            // Plain bytes are ASCII.
            *slot = std::str::from_utf8(value).ok().map(Cow::Borrowed);
        }
    }

    /// [`EngineQuery::parse`] of a query with escapes, through the general parser.
    fn parse_encoded(query: &'a str) -> Self {
        let mut q = Self::default();
        for (k, v) in sockio_protocol::urlencoded::pairs_borrowed(query) {
            q.take(&k, v);
        }
        q
    }

    /// Keeps the pair `name=value` when Engine.IO reads it (the first of each name).
    fn take(&mut self, name: &str, value: Cow<'a, str>) {
        match name {
            "EIO" if self.eio.is_none() => self.eio = Some(value),
            "transport" if self.transport.is_none() => self.transport = Some(value),
            "sid" if self.sid.is_none() => self.sid = Some(value),
            "b64" => self.b64 = true,
            "j" if self.j.is_none() => self.j = Some(value),
            _ => {}
        }
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

/// Whether a request's `Origin` header value (if any) holds only valid header characters
/// (as Node checks).
pub(crate) fn valid_origin(origin: Option<&[u8]>) -> bool {
    origin.is_none_or(|o| {
        o.iter()
            .all(|&b| b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80)
    })
}

/// Whether a request's `User-Agent` header value (if any) is Internet Explorer's.
pub(crate) fn user_agent_is_ie(user_agent: Option<&[u8]>) -> bool {
    user_agent.is_some_and(|ua| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(q: &EngineQuery<'_>) -> [Option<String>; 5] {
        let own = |v: &Option<Cow<'_, str>>| v.as_deref().map(str::to_owned);
        [
            own(&q.eio),
            own(&q.transport),
            own(&q.sid),
            q.b64.then(String::new),
            own(&q.j),
        ]
    }

    /// The one-pass parse reads every plain query as the general parser does, and
    /// leaves the others to it: every sequence of up to five of these pieces.
    #[test]
    fn plain_queries_read_as_the_general_parser_does() {
        let pieces = [
            "&",
            "=",
            "sid",
            "EIO",
            "transport",
            "b64",
            "j",
            "x",
            "4",
            "é",
        ];
        let mut query = String::new();
        let mut index = [0usize; 5];
        loop {
            for len in 0..=index.len() {
                query.clear();
                index[..len].iter().for_each(|&i| query.push_str(pieces[i]));
                let general = EngineQuery::parse_encoded(&query);
                let plain = EngineQuery::parse_plain(query.as_bytes());
                if let Some(plain) = plain {
                    assert_eq!(fields(&plain), fields(&general), "{query:?}");
                }
                let parsed = EngineQuery::parse(Some(&query));
                assert_eq!(fields(&parsed), fields(&general), "{query:?}");
            }
            // The next combination, as an odometer.
            let mut digit = 0;
            loop {
                if digit == index.len() {
                    return;
                }
                index[digit] += 1;
                if index[digit] < pieces.len() {
                    break;
                }
                index[digit] = 0;
                digit += 1;
            }
        }
    }

    #[test]
    fn escaped_queries_are_decoded() {
        let q = EngineQuery::parse(Some("EIO=4&sid=a%2Bb&transport=polling+x"));
        assert_eq!(q.sid.as_deref(), Some("a+b"));
        assert_eq!(q.transport.as_deref(), Some("polling x"));
        assert_eq!(q.eio.as_deref(), Some("4"));
        let q = EngineQuery::parse(Some("sid=first&sid=second&b64&j=3"));
        assert_eq!(q.sid.as_deref(), Some("first"));
        assert!(q.b64);
        assert_eq!(q.j.as_deref(), Some("3"));
        assert!(EngineQuery::parse(None).sid.is_none());
        // Not plain: left to the general parser.
        for query in ["sid=a#b", "sid=a%20", "sid=a+b", "sid=é", "sid=a b"] {
            assert!(
                EngineQuery::parse_plain(query.as_bytes()).is_none(),
                "{query}"
            );
        }
        assert!(EngineQuery::parse_plain(b"EIO=4&sid=a-b_c.d~e!$'()*,;:@/?").is_some());
    }
}
