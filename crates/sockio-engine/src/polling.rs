//! The HTTP long-polling transport: GET (poll) and POST (data) requests of a session.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use sockio_protocol::engine::payload::{self, EncodedPacket};
use sockio_protocol::engine::{DecodeError, Packet};

use crate::proto::{GetStart, PollingFormat, PostStart, Reply};
use crate::session::Session;

const TEXT_PLAIN: &str = "text/plain; charset=UTF-8";
const OCTET_STREAM: &str = "application/octet-stream";

/// Encodes a polling response body for a session's payload format.
pub(crate) fn encode_body(
    format: &PollingFormat,
    packets: &[EncodedPacket],
) -> (Bytes, &'static str) {
    match format {
        PollingFormat::V4 => (payload::encode_v4(packets), TEXT_PLAIN),
        PollingFormat::V3Text => (Bytes::from(payload::encode_v3_text(packets)), TEXT_PLAIN),
        PollingFormat::V3Binary if packets.iter().any(EncodedPacket::is_binary) => {
            (payload::encode_v3_binary(packets), OCTET_STREAM)
        }
        PollingFormat::V3Binary => (Bytes::from(payload::encode_v3_text(packets)), TEXT_PLAIN),
        PollingFormat::V3Jsonp(index) => {
            let text = payload::encode_v3_text(packets);
            (Bytes::from(payload::encode_jsonp(index, &text)), TEXT_PLAIN)
        }
    }
}

/// The answer to a polling request before it is written: a status, a body, and the few
/// headers such an answer has, always in this order — `content-type` and `cache-control:
/// no-store` (when the body is typed), `content-encoding`, `x-xss-protection: 0` (for
/// Internet Explorer). The engine's own loop (`lean`) writes it without a header map;
/// [`Answer::into_response`] makes the same answer a [`Response`].
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) content_encoding: Option<&'static str>,
    pub(crate) xss_protection_off: bool,
}

impl Answer {
    /// An answer of `status` without a body or headers.
    fn empty(status: StatusCode) -> Self {
        Answer {
            status,
            body: Bytes::new(),
            content_type: None,
            content_encoding: None,
            xss_protection_off: false,
        }
    }

    /// A `200` carrying `body` of `content_type`.
    pub(crate) fn payload(body: Bytes, content_type: &'static str) -> Self {
        Answer {
            content_type: Some(content_type),
            body,
            ..Answer::empty(StatusCode::OK)
        }
    }

    /// The answer's headers, names in lower case, in the order they are written.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        let typed = self
            .content_type
            .map(|t| [("content-type", t), ("cache-control", "no-store")]);
        typed
            .into_iter()
            .flatten()
            .chain(self.content_encoding.map(|e| ("content-encoding", e)))
            .chain(self.xss_protection_off.then_some(("x-xss-protection", "0")))
    }

    /// The same answer as a [`Response`], its headers in the same order.
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(self.body.clone()));
        *res.status_mut() = self.status;
        let h = res.headers_mut();
        for (name, value) in self.headers() {
            h.insert(
                header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        res
    }
}

/// A `200` response carrying `body` of `content_type` (with `cache-control: no-store`).
pub(crate) fn payload_response(body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    Answer::payload(body, content_type).into_response()
}

/// The content coding a polling response may be compressed with, from the request's
/// `Accept-Encoding`: gzip when accepted, else deflate when accepted, else none. A value
/// that is not visible ASCII accepts nothing.
pub(crate) fn coding_for(accept_encoding: Option<&[u8]>) -> Option<&'static str> {
    let accept = accept_encoding
        .filter(|v| v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)))
        .and_then(|v| std::str::from_utf8(v).ok())?;
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>() == Ok(0.0))
            });
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if accepts("gzip") {
        Some("gzip")
    } else if accepts("deflate") {
        Some("deflate")
    } else {
        None
    }
}

/// Whether a POST's `Content-Type` says its payload is binary (EIO 3's XHR2 payloads).
pub(crate) fn is_binary(content_type: Option<&[u8]>) -> bool {
    content_type.is_some_and(|v| v.eq_ignore_ascii_case(OCTET_STREAM.as_bytes()))
}

/// Compresses a polling response body with `coding` (from [`coding_for`]) when it is at
/// least `threshold` bytes. Returns the body to send and its `Content-Encoding`.
pub(crate) fn compress(
    body: Bytes,
    coding: Option<&'static str>,
    threshold: Option<usize>,
) -> (Bytes, Option<&'static str>) {
    use std::io::Write as _;
    let (Some(threshold), Some(coding)) = (threshold, coding) else {
        return (body, None);
    };
    if body.len() < threshold {
        return (body, None);
    }
    let level = flate2::Compression::default();
    let out = Vec::with_capacity(body.len() / 2);
    let encoded = if coding == "gzip" {
        let mut enc = flate2::write::GzEncoder::new(out, level);
        enc.write_all(&body).and_then(|_| enc.finish())
    } else {
        let mut enc = flate2::write::ZlibEncoder::new(out, level);
        enc.write_all(&body).and_then(|_| enc.finish())
    };
    match encoded {
        Ok(bytes) => (Bytes::from(bytes), Some(coding)),
        Err(_) => (body, None),
    }
}

/// Marks the GET of a session pending while it lives; a GET dropped before it answered
/// (the client went away) closes the session, as engine.io does.
struct PendingGet<D: Send + Sync + 'static> {
    session: Arc<Session<D>>,
    answered: bool,
}

impl<D: Send + Sync + 'static> Drop for PendingGet<D> {
    fn drop(&mut self) {
        if !self.answered {
            tracing::debug!(sid = %self.session.sid, "poll connection closed prematurely");
            let closed = self.session.lock().proto.get_aborted();
            if let Some(c) = closed {
                self.session.closed(c);
            }
        }
    }
}

/// A poll: answers with queued packets, or waits until there are some. `coding` is the
/// content coding the client accepts ([`coding_for`]); `ie` marks a request from
/// Internet Explorer (its `200` gets `x-xss-protection: 0`).
pub(crate) async fn poll<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
    coding: Option<&'static str>,
    ie: bool,
) -> Answer {
    let start = session.lock().proto.get_begin();
    if let GetStart::Overlap(closed) = start {
        tracing::debug!(sid = %session.sid, "overlapping GET from client");
        if let Some(c) = closed {
            session.closed(c);
        }
        return Answer::empty(StatusCode::BAD_REQUEST);
    }
    let mut guard = PendingGet {
        session: session.clone(),
        answered: false,
    };
    let max = session.shared.config.max_packets_per_poll;
    loop {
        session.out_notify.clear();
        let reply = session.lock().proto.poll_get(max);
        if let Some(Reply { packets, last }) = reply {
            guard.answered = true;
            if last {
                session.shared.sessions.remove(&session.sid);
            }
            let (body, content_type) = encode_body(&session.polling_format, &packets);
            let threshold = session.shared.config.http_compression;
            let (body, encoding) = compress(body, coding, threshold);
            let mut answer = Answer::payload(body, content_type);
            answer.content_encoding = encoding;
            answer.xss_protection_off = ie;
            return answer;
        }
        session.out_notify.wait().await;
    }
}

/// Resets the POST-in-progress mark when the request ends, however it ends.
struct PendingPost<D: Send + Sync + 'static>(Arc<Session<D>>);

impl<D: Send + Sync + 'static> Drop for PendingPost<D> {
    fn drop(&mut self) {
        self.0.lock().proto.post_end();
    }
}

/// A data request: decodes the payload and hands its packets to the session. `binary`
/// says its `Content-Type` is binary ([`is_binary`]); `ie` marks a request from
/// Internet Explorer (its answer gets `x-xss-protection: 0`, whatever its status).
pub(crate) async fn post<D, B>(session: Arc<Session<D>>, binary: bool, ie: bool, body: B) -> Answer
where
    D: Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut answer = post_payload(session, binary, body).await;
    answer.xss_protection_off = ie;
    answer
}

async fn post_payload<D, B>(session: Arc<Session<D>>, binary: bool, body: B) -> Answer
where
    D: Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let start = session.lock().proto.post_begin(binary);
    if let PostStart::Refused(closed) = start {
        tracing::debug!(sid = %session.sid, binary, "refused POST: binary on EIO=4, or overlapping");
        if let Some(c) = closed {
            session.closed(c);
        }
        return Answer::empty(StatusCode::BAD_REQUEST);
    }
    let _pending = PendingPost(session.clone());
    let max = session.shared.config.max_payload;
    let body = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                tracing::debug!(sid = %session.sid, max, "POST body over max payload");
                return Answer::empty(StatusCode::PAYLOAD_TOO_LARGE);
            }
            tracing::debug!(sid = %session.sid, error = %e, "POST body failed");
            return Answer::empty(StatusCode::BAD_REQUEST);
        }
    };
    if session.is_closed() {
        return ok_answer();
    }
    let packets: Box<dyn Iterator<Item = Result<Packet, DecodeError>> + Send> =
        match (&session.polling_format, binary) {
            (PollingFormat::V4, _) => Box::new(payload::decode_v4(body)),
            (_, true) => Box::new(payload::decode_v3_binary(body)),
            (PollingFormat::V3Jsonp(_), false) => match payload::decode_jsonp_form(&body) {
                Ok(text) => Box::new(payload::decode_v3_text(Bytes::from(text))),
                Err(e) => Box::new(std::iter::once(Err(e))),
            },
            (_, false) => Box::new(payload::decode_v3_text(body)),
        };
    for packet in packets {
        match packet {
            Ok(p) => {
                if !session.receive(p) {
                    break;
                }
            }
            Err(e) => {
                session.parse_error(&e);
                break;
            }
        }
    }
    ok_answer()
}

/// The answer to a data request: `200 ok`.
fn ok_answer() -> Answer {
    Answer::payload(Bytes::from_static(b"ok"), "text/html")
}
