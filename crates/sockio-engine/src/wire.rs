//! HTTP/1.1 on the engine's own connections (`direct`, `lean`): a parsed request head
//! turned into a [`Request`] whose parts share the head's buffer, and a response written
//! out as one buffer (head and body), for one `write`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::FutureExt as _;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt as _, Full};

use crate::handshake::RemoteAddr;

/// The most headers a request head may have here; more go to hyper.
pub(crate) const MAX_HEADERS: usize = 64;

/// The head `parsed` from `buf` as a request with `body`, whose header values and target
/// share `head`, the bytes of that head (a copy of `buf`'s, or the same bytes).
pub(crate) fn request_of<B>(
    buf: &[u8],
    head: &Bytes,
    parsed: &httparse::Request<'_, '_>,
    addr: SocketAddr,
    body: B,
) -> Option<Request<B>> {
    let base = buf.as_ptr() as usize;
    let slice = |part: &[u8]| {
        let start = (part.as_ptr() as usize).checked_sub(base)?;
        head.get(start..start + part.len())?;
        Some(head.slice(start..start + part.len()))
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_maybe_shared(slice(h.value)?).ok()?;
        headers.append(name, value);
    }
    let uri = Uri::from_maybe_shared(slice(parsed.path?.as_bytes())?).ok()?;
    let method = match parsed.method? {
        "GET" => Method::GET,
        "POST" => Method::POST,
        other => Method::from_bytes(other.as_bytes()).ok()?,
    };
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    Some(assemble(method, uri, version, headers, addr, body))
}

/// The request of these parts.
fn assemble<B>(
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    addr: SocketAddr,
    body: B,
) -> Request<B> {
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    request.extensions_mut().insert(RemoteAddr(addr));
    request
}

/// Where the parts of a request head lie in it, as offsets (start, end) from its first
/// byte, kept from the one `httparse` pass that sorted it ([`crate::lean::sort`]), so
/// that its request is built without parsing the head again ([`Spans::request`]).
pub(crate) struct Spans {
    method: Method,
    version: Version,
    path: (u16, u16),
    /// Each header's name and value.
    headers: [[u16; 4]; MAX_HEADERS],
    count: usize,
}

impl Default for Spans {
    fn default() -> Self {
        Spans {
            method: Method::GET,
            version: Version::HTTP_11,
            path: (0, 0),
            headers: [[0; 4]; MAX_HEADERS],
            count: 0,
        }
    }
}

impl Spans {
    /// Records where the parts of the head `parsed` from `buf` lie; `None` if one is
    /// outside the first 64 KiB of `buf` (heads are read here up to 16 KiB), or the
    /// method is not one `http` knows without an allocation.
    pub(crate) fn record(&mut self, buf: &[u8], parsed: &httparse::Request<'_, '_>) -> Option<()> {
        let base = buf.as_ptr() as usize;
        let span = |part: &[u8]| -> Option<(u16, u16)> {
            let start = (part.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(part.len())?;
            buf.get(start..end)?;
            Some((u16::try_from(start).ok()?, u16::try_from(end).ok()?))
        };
        self.method = match parsed.method? {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "OPTIONS" => Method::OPTIONS,
            _ => return None,
        };
        self.version = match parsed.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        self.path = span(parsed.path?.as_bytes())?;
        if parsed.headers.len() > MAX_HEADERS {
            return None;
        }
        for (slot, h) in self.headers.iter_mut().zip(parsed.headers.iter()) {
            let (name_start, name_end) = span(h.name.as_bytes())?;
            let (value_start, value_end) = span(h.value)?;
            *slot = [name_start, name_end, value_start, value_end];
        }
        self.count = parsed.headers.len();
        Some(())
    }

    /// The method of the request.
    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    /// The request target (`/path?query`) in `head`, the bytes these spans were
    /// recorded from.
    pub(crate) fn target<'h>(&self, head: &'h [u8]) -> Option<&'h [u8]> {
        head.get(usize::from(self.path.0)..usize::from(self.path.1))
    }

    /// The value of the first header named `name` (in lower case) in `head`, the bytes
    /// these spans were recorded from.
    pub(crate) fn header<'h>(&self, head: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
        let at = |start: u16, end: u16| head.get(usize::from(start)..usize::from(end));
        self.headers.get(..self.count)?.iter().find_map(
            |&[name_start, name_end, value_start, value_end]| {
                let found = usize::from(name_end.saturating_sub(name_start)) == name.len()
                    && at(name_start, name_end)?.eq_ignore_ascii_case(name);
                found.then(|| at(value_start, value_end)).flatten()
            },
        )
    }

    /// The request whose head is `head` (the bytes these spans were recorded from) with
    /// `body`, its header values and target sharing `head`: the same request as
    /// [`request_of`] builds from a parse of `head`.
    pub(crate) fn request<B>(&self, head: &Bytes, addr: SocketAddr, body: B) -> Option<Request<B>> {
        let slice = |start: u16, end: u16| {
            let (start, end) = (usize::from(start), usize::from(end));
            head.get(start..end)?;
            Some(head.slice(start..end))
        };
        let mut headers = HeaderMap::with_capacity(self.count);
        for &[name_start, name_end, value_start, value_end] in self.headers.get(..self.count)? {
            let name = head.get(usize::from(name_start)..usize::from(name_end))?;
            let name = HeaderName::from_bytes(name).ok()?;
            let value = HeaderValue::from_maybe_shared(slice(value_start, value_end)?).ok()?;
            headers.append(name, value);
        }
        let uri = Uri::from_maybe_shared(slice(self.path.0, self.path.1)?).ok()?;
        Some(assemble(
            self.method.clone(),
            uri,
            self.version,
            headers,
            addr,
            body,
        ))
    }
}

/// What follows a response on its connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum After {
    /// The connection closes (`connection: close` is sent).
    Close,
    /// The next request of an HTTP/1.1 connection (nothing is sent: the default).
    KeepAlive,
    /// The next request of an HTTP/1.0 connection that asked for it
    /// (`connection: keep-alive` is sent).
    KeepAlive10,
}

/// Appends `response` to `out` as HTTP/1.1 bytes, head and body. A `101` is written as
/// it is; any other answer gets its `content-length` (none on `204` and `304`), a `date`,
/// and the `connection` header `after` calls for (the response's own is dropped).
pub(crate) fn write_response(out: &mut Vec<u8>, response: Response<Full<Bytes>>, after: After) {
    let (parts, body) = response.into_parts();
    // A `Full` body is there at once.
    let body = match body.collect().now_or_never() {
        Some(Ok(collected)) => collected.to_bytes(),
        Some(Err(never)) => match never {},
        None => Bytes::new(),
    };
    let upgrade = parts.status == StatusCode::SWITCHING_PROTOCOLS;
    out.reserve(160 + body.len());
    write_status(out, parts.status);
    for (name, value) in &parts.headers {
        if !upgrade
            && (name == header::CONNECTION
                || name == header::CONTENT_LENGTH
                || name == header::DATE
                || name == header::TRANSFER_ENCODING)
        {
            continue;
        }
        write_header(out, name.as_str(), value.as_bytes());
    }
    if !upgrade {
        write_framing(out, parts.status, body.len(), after);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
}

/// Appends an answer to `out` as HTTP/1.1 bytes, head and body, exactly as
/// [`write_response`] writes the response of `status` with these `headers` (names in
/// lower case; none of those it writes itself), then the header lines `more` (each
/// `name: value\r\n`, names in lower case), and `body`.
pub(crate) fn write_answer<'h>(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: impl Iterator<Item = (&'h str, &'h str)>,
    more: &[u8],
    body: &[u8],
    after: After,
) {
    out.reserve(160 + more.len() + body.len());
    write_status(out, status);
    for (name, value) in headers {
        write_header(out, name, value.as_bytes());
    }
    out.extend_from_slice(more);
    write_framing(out, status, body.len(), after);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// The status line.
fn write_status(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or_default().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One header line.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The headers every answer but a `101` ends with: `connection` as `after` calls for,
/// `content-length` (none on `204` and `304`), `date`.
fn write_framing(out: &mut Vec<u8>, status: StatusCode, body_len: usize, after: After) {
    match after {
        After::Close => out.extend_from_slice(b"connection: close\r\n"),
        After::KeepAlive10 => out.extend_from_slice(b"connection: keep-alive\r\n"),
        After::KeepAlive => {}
    }
    if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
        out.extend_from_slice(b"content-length: ");
        write_decimal(out, body_len);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"date: ");
    with_date(|date| out.extend_from_slice(date));
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal digits.
fn write_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

thread_local! {
    /// The `date` value of the current second, formatted once a second per thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Calls `f` with the current time as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn with_date(f: impl FnOnce(&[u8])) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = secs;
            }
        }
        f(&cached.1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(res: Response<Full<Bytes>>, after: After) -> String {
        let mut out = Vec::new();
        write_response(&mut out, res, after);
        let text = String::from_utf8(out).unwrap();
        // The date changes: checked for its shape, then taken out.
        match text.find("date: ") {
            Some(at) => {
                let date = &text[at + 6..at + 6 + 29];
                assert!(date.ends_with(" GMT"), "{date}");
                format!("{}{}", &text[..at], &text[at + 6 + 29 + 2..])
            }
            None => text,
        }
    }

    #[test]
    fn responses_are_written_as_http_1_1() {
        let mut res = Response::new(Full::new(Bytes::from_static(b"{\"code\":3}")));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        assert_eq!(
            written(res, After::Close),
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
             connection: close\r\ncontent-length: 10\r\n\r\n{\"code\":3}"
        );

        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        res.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        assert_eq!(
            written(res, After::Close),
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n"
        );
    }

    #[test]
    fn keep_alive_responses() {
        let res = Response::new(Full::new(Bytes::from_static(b"ok")));
        assert_eq!(
            written(res, After::KeepAlive),
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        );
        let res = Response::new(Full::new(Bytes::from_static(b"ok")));
        assert_eq!(
            written(res, After::KeepAlive10),
            "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok"
        );
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::NO_CONTENT;
        assert_eq!(
            written(res, After::KeepAlive),
            "HTTP/1.1 204 No Content\r\n\r\n"
        );
    }

    #[test]
    fn request_values_share_the_head() {
        let buf: &[u8] =
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: a\r\nX-Custom: v\r\n\r\n";
        let head = Bytes::copy_from_slice(buf);
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Request::new(&mut headers);
        parsed.parse(buf).unwrap();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let req = request_of(buf, &head, &parsed, addr, ()).unwrap();
        assert_eq!(req.uri().query(), Some("EIO=4&transport=websocket"));
        assert_eq!(req.headers()["x-custom"], "v");
        assert_eq!(req.headers()["host"], "a");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.extensions().get::<RemoteAddr>().unwrap().0, addr);

        let mut spans = Spans::default();
        spans.record(buf, &parsed).unwrap();
        let again = spans.request(&head, addr, ()).unwrap();
        assert_eq!(again.uri(), req.uri());
        assert_eq!(again.method(), req.method());
        assert_eq!(again.version(), req.version());
        assert_eq!(again.headers(), req.headers());
        assert_eq!(again.extensions().get::<RemoteAddr>().unwrap().0, addr);
    }
}
