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

pub(crate) fn payload_response(body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Compresses a polling response body with gzip or deflate, whichever the request's
/// `Accept-Encoding` allows (gzip preferred), when it is at least `threshold` bytes.
/// Returns the body to send and its `Content-Encoding`.
pub(crate) fn compress(
    body: Bytes,
    accept_encoding: Option<&HeaderValue>,
    threshold: Option<usize>,
) -> (Bytes, Option<&'static str>) {
    use std::io::Write as _;
    let accept = accept_encoding.and_then(|v| v.to_str().ok());
    let (Some(threshold), Some(accept)) = (threshold, accept) else {
        return (body, None);
    };
    if body.len() < threshold {
        return (body, None);
    }
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
    let level = flate2::Compression::default();
    let out = Vec::with_capacity(body.len() / 2);
    let encoded = if accepts("gzip") {
        let mut enc = flate2::write::GzEncoder::new(out, level);
        enc.write_all(&body)
            .and_then(|_| enc.finish())
            .map(|b| (b, "gzip"))
    } else if accepts("deflate") {
        let mut enc = flate2::write::ZlibEncoder::new(out, level);
        enc.write_all(&body)
            .and_then(|_| enc.finish())
            .map(|b| (b, "deflate"))
    } else {
        return (body, None);
    };
    match encoded {
        Ok((bytes, name)) => (Bytes::from(bytes), Some(name)),
        Err(_) => (body, None),
    }
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
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

/// A poll: answers with queued packets, or waits until there are some.
pub(crate) async fn poll<D: Send + Sync + 'static>(
    session: Arc<Session<D>>,
    accept_encoding: Option<HeaderValue>,
) -> Response<Full<Bytes>> {
    let start = session.lock().proto.get_begin();
    if let GetStart::Overlap(closed) = start {
        tracing::debug!(sid = %session.sid, "overlapping GET from client");
        if let Some(c) = closed {
            session.closed(c);
        }
        return empty(StatusCode::BAD_REQUEST);
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
            let (body, encoding) = compress(body, accept_encoding.as_ref(), threshold);
            let mut res = payload_response(body, content_type);
            if let Some(encoding) = encoding {
                res.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            return res;
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

/// A data request: decodes the payload and hands its packets to the session.
pub(crate) async fn post<D, B>(
    session: Arc<Session<D>>,
    content_type: Option<HeaderValue>,
    body: B,
) -> Response<Full<Bytes>>
where
    D: Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let binary = content_type
        .as_ref()
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(OCTET_STREAM.as_bytes()));
    let start = session.lock().proto.post_begin(binary);
    if let PostStart::Refused(closed) = start {
        tracing::debug!(sid = %session.sid, binary, "refused POST: binary on EIO=4, or overlapping");
        if let Some(c) = closed {
            session.closed(c);
        }
        return empty(StatusCode::BAD_REQUEST);
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
                return empty(StatusCode::PAYLOAD_TOO_LARGE);
            }
            tracing::debug!(sid = %session.sid, error = %e, "POST body failed");
            return empty(StatusCode::BAD_REQUEST);
        }
    };
    if session.is_closed() {
        return ok_response();
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
    ok_response()
}

/// The answer to a data request: `200 ok`.
fn ok_response() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
