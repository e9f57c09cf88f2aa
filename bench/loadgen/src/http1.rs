//! A minimal HTTP/1.1 keep-alive client, just what the Engine.IO polling transport needs:
//! one request at a time on a connection (sent, then its response read, possibly much
//! later), `Content-Length` or chunked response bodies, `Connection: close` honoured.
//!
//! Like `ws.rs`, it exists so the load generator, not a client library, decides what one
//! delivery costs on the client side: a wake-up reads whatever arrived into one buffer and
//! the response is parsed in place.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD: usize = 16 << 10;
/// Largest response body accepted.
const MAX_BODY: usize = 16 << 20;

/// One keep-alive HTTP/1.1 connection.
pub struct Http {
    stream: TcpStream,
    host: String,
    /// Read buffer; unconsumed bytes are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Request bytes being built (reused).
    out: Vec<u8>,
    /// The server said `Connection: close`, or closed the connection.
    pub closed: bool,
}

/// A complete response.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(stream: TcpStream, host: &str, buf_size: usize) -> Self {
        Self {
            stream,
            host: host.to_string(),
            buf: vec![0; buf_size.max(512)],
            start: 0,
            end: 0,
            out: Vec::new(),
            closed: false,
        }
    }

    /// Writes a request (`GET` without a body, `POST` with a `text/plain` one).
    pub async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(), String> {
        use std::io::Write as _;
        self.out.clear();
        // Writing to a Vec cannot fail.
        let _ = write!(
            self.out,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n",
            self.host
        );
        if method != "GET" {
            let _ = write!(
                self.out,
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("{method}: write: {e}"))
    }

    /// Reads the response to the request sent last. Cancel safe: bytes read so far stay
    /// buffered and a later call parses them again.
    pub async fn response(&mut self) -> Result<Response, String> {
        loop {
            if let Some((resp, used)) = parse_response(&self.buf[self.start..self.end])? {
                self.start += used;
                if resp.close {
                    self.closed = true;
                }
                return Ok(Response {
                    status: resp.status,
                    body: resp.body,
                });
            }
            self.fill().await?;
        }
    }

    /// Sends a request and reads its response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Response, String> {
        self.send(method, path, body).await?;
        self.response().await
    }

    /// Waits until the server closes an idle connection (or sends anything, which is an
    /// error on an idle HTTP/1.1 connection). Cancel safe.
    pub async fn closed_by_server(&mut self) -> String {
        match self.fill().await {
            Ok(()) => "unexpected bytes on an idle connection".into(),
            Err(e) => e,
        }
    }

    /// Reads more bytes (one `read`); `Err` on EOF.
    async fn fill(&mut self) -> Result<(), String> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD + MAX_BODY {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            } else {
                return Err("response too large".into());
            }
        }
        match self.stream.read(&mut self.buf[self.end..]).await {
            Ok(0) => {
                self.closed = true;
                Err("connection closed by server".into())
            }
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) => {
                self.closed = true;
                Err(format!("read: {e}"))
            }
        }
    }
}

struct Parsed {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

/// A complete response at the start of `data` and the bytes it spans, `None` if incomplete.
fn parse_response(data: &[u8]) -> Result<Option<(Parsed, usize)>, String> {
    let Some(head_len) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        if data.len() > MAX_HEAD {
            return Err("response head too large".into());
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&data[..head_len]).map_err(|_| "response head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = status_line.starts_with("HTTP/1.0");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body_at = head_len + 4;
    let rest = &data[body_at..];
    if chunked {
        return Ok(parse_chunked(rest)?.map(|(body, used)| {
            (
                Parsed {
                    status,
                    body,
                    close,
                },
                body_at + used,
            )
        }));
    }
    // Without a length a response to a polling request has no body (1xx, 204, 304 aside,
    // which polling never sees; a body delimited by close is not supported).
    let len = length.unwrap_or(0);
    if len > MAX_BODY {
        return Err(format!("body of {len} bytes"));
    }
    if rest.len() < len {
        return Ok(None);
    }
    Ok(Some((
        Parsed {
            status,
            body: rest[..len].to_vec(),
            close,
        },
        body_at + len,
    )))
}

/// A complete chunked body at the start of `data` (trailers skipped) and the bytes it spans.
fn parse_chunked(data: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = data[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[at..at + eol]).map_err(|_| "bad chunk size")?;
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
        at += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(eol) = data[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err("chunked body too large".into());
        }
        if data.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[at..at + size]);
        at += size + 2;
    }
}

/// The Engine.IO v4 packets of a polling payload (separated by the record separator 0x1e).
pub fn packets(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == 0x1e).filter(|p| !p.is_empty())
}

/// The `sid` of an Engine.IO OPEN packet `0{"sid":"…",…}`.
pub fn open_sid(packet: &[u8]) -> Option<String> {
    let body = packet.strip_prefix(b"0{")?;
    let key = br#""sid":""#;
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let len = body[at..].iter().position(|&b| b == b'"')?;
    String::from_utf8(body[at..at + len].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_responses() {
        let r =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 2\r\n\r\nokHTTP/1.1";
        let (p, used) = parse_response(r).unwrap().unwrap();
        assert_eq!(
            (p.status, p.body.as_slice(), p.close),
            (200, &b"ok"[..], false)
        );
        assert_eq!(&r[used..], b"HTTP/1.1");
        assert!(parse_response(&r[..40]).unwrap().is_none());
        let r = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
        let (p, _) = parse_response(r).unwrap().unwrap();
        assert_eq!((p.status, p.body.len(), p.close), (400, 0, true));
        assert!(parse_response(b"SMTP 200\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_responses() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\n\r\n!";
        let (p, used) = parse_response(r).unwrap().unwrap();
        assert_eq!(p.body, b"abc0123456789");
        assert_eq!(&r[used..], b"!");
        for cut in 40..r.len() - 1 {
            assert!(parse_response(&r[..cut]).unwrap().is_none(), "cut {cut}");
        }
        assert!(parse_chunked(b"zz\r\n").is_err());
    }

    #[test]
    fn payload_packets_and_sid() {
        let body = b"0{\"sid\":\"abc-_1\",\"upgrades\":[\"websocket\"]}\x1e2\x1e42[\"msg\",{}]";
        let p: Vec<&[u8]> = packets(body).collect();
        assert_eq!(p.len(), 3);
        assert_eq!(open_sid(p[0]).as_deref(), Some("abc-_1"));
        assert_eq!(p[1], b"2");
        assert_eq!(open_sid(b"40{\"sid\":\"x\"}"), None);
    }
}
