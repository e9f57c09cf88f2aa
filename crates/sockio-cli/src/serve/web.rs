//! The HTTP side of `sockio serve`, in one service: the official client files under the
//! Socket.IO path (outermost, as socket.io's `serveClient` answers them before its
//! engine), then the Socket.IO engine's tower layer on its path, then an axum router for
//! the chat page (`/`, `/chat.js`, `/chat.css`) and `/metrics`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sockio::server::SocketIo;

use super::client_bundle::ClientBundle;
use super::metrics::{self, Metrics};

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const CHAT_JS: &str = include_str!("../../assets/chat.js");
const CHAT_CSS: &str = include_str!("../../assets/chat.css");

/// What the handlers share.
struct Site {
    bundle: ClientBundle,
    metrics: Metrics,
    /// The Socket.IO path, with its final `/`.
    path: String,
    /// The page, with the Socket.IO path filled in.
    index: String,
}

/// The whole site for `io`, its Socket.IO path `path` (ending in `/`).
pub fn app(io: &SocketIo, bundle: ClientBundle, path: &str) -> Router {
    let client_path = path.trim_end_matches('/');
    let index = INDEX_HTML
        .replace("{{SOCKET_IO_PATH}}", client_path)
        .replace("{{CLIENT_VERSION}}", bundle.version());
    let site = Arc::new(Site {
        bundle,
        metrics: Metrics::new(io.clone()),
        path: path.to_owned(),
        index,
    });
    Router::new()
        .route("/", get(index_page))
        .route(
            "/chat.js",
            get(|| async { asset(CHAT_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/chat.css",
            get(|| async { asset(CHAT_CSS, "text/css; charset=utf-8") }),
        )
        .route("/metrics", get(metrics_page))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(site.clone())
        .layer(io.layer())
        .layer(middleware::from_fn_with_state(site, client_files))
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}

async fn index_page(State(site): State<Arc<Site>>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        site.index.clone(),
    )
        .into_response()
}

async fn metrics_page(State(site): State<Arc<Site>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        site.metrics.render(),
    )
        .into_response()
}

/// `GET {path}socket.io.js` and the other client files; anything else goes on.
async fn client_files(State(site): State<Arc<Site>>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        if let Some(name) = req.uri().path().strip_prefix(site.path.as_str()) {
            if let Some(res) = site.bundle.respond(name, req.headers()) {
                // hyper leaves the body out of an answer to HEAD.
                return res.map(Body::from).into_response();
            }
        }
    }
    next.run(req).await
}
