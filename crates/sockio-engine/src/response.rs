//! The engine's own HTTP answers: refusals, `404`, and `101 Switching Protocols`.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;

use crate::error::{BadRequestContext, RequestError};

/// The answer refusing a request: JSON for polling, plain text for a WebSocket.
pub(crate) fn error_response(err: &RequestError, websocket: bool) -> Response<Full<Bytes>> {
    if websocket {
        // Refused upgrades: a plain 400 (503 when the server is full) with the message,
        // and the connection closed.
        let mut res = Response::new(Full::new(Bytes::from(err.message().to_owned())));
        *res.status_mut() = match err {
            RequestError::ServerFull => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let h = res.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        return res;
    }
    let mut res = Response::new(Full::new(Bytes::from(err.json_body())));
    *res.status_mut() = err.status();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `404 Not Found`.
pub(crate) fn not_found() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// The 101 answer to a WebSocket upgrade request, or the refusal of a malformed one.
pub(crate) fn switching_protocols<B>(
    req: &Request<B>,
) -> Result<Response<Full<Bytes>>, RequestError> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY);
    let version_ok = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = key.filter(|_| version_ok) else {
        return Err(RequestError::BadRequest(
            BadRequestContext::TransportHandshakeError,
        ));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(res)
}
