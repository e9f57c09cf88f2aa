//! The official socket.io-client browser bundle, served under the Socket.IO path the
//! way Node's socket.io 4.8 does (`serveClient`): the files of its `dist/` folder at
//! `/socket.io/socket.io.js`, `.min.js`, `.esm.min.js`, `.msgpack.min.js` and their
//! `.map`s; `Content-Type` `application/javascript` (`application/json` for maps) with
//! `charset=utf-8`; `Cache-Control: public, max-age=0`; `ETag: "<client version>"`;
//! `If-None-Match` with that tag (or its weak form) → `304`; gzip or deflate when the
//! request accepts it.
//!
//! The files are never in the repository: `npm ci` in this crate's folder installs the
//! version its `package-lock.json` pins (`scripts/setup.sh` does it), and `sockio serve`
//! reads them once at startup — from `--client-dir` when given.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

/// The files socket.io 4.8 serves (its `CLIENT_FILES`).
pub const CLIENT_FILES: [&str; 8] = [
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// One file, as read and compressed once.
struct File {
    identity: Bytes,
    gzip: Bytes,
    deflate: Bytes,
    content_type: HeaderValue,
}

/// The loaded bundle.
pub struct ClientBundle {
    version: String,
    etag: HeaderValue,
    files: HashMap<&'static str, File>,
}

/// What a request accepts, of what we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

impl ClientBundle {
    /// Reads every file of `dir` (socket.io-client's `dist/`) and the version from the
    /// `package.json` beside it. The error says how to install the bundle.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let missing = |what: String| {
            format!(
                "{what}: the socket.io-client bundle is not installed; run ./scripts/setup.sh \
                 (or `npm ci` in crates/sockio-cli), or pass --client-dir"
            )
        };
        let package = dir.join("../package.json");
        let text = std::fs::read_to_string(&package)
            .map_err(|e| missing(format!("cannot read {}: {e}", package.display())))?;
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
            .ok_or_else(|| missing(format!("{} has no version", package.display())))?;
        let etag = HeaderValue::try_from(format!("\"{version}\""))
            .map_err(|_| format!("{}: invalid version {version:?}", package.display()))?;
        let mut files = HashMap::new();
        for name in CLIENT_FILES {
            let path = dir.join(name);
            let data = std::fs::read(&path)
                .map_err(|e| missing(format!("cannot read {}: {e}", path.display())))?;
            let content_type = if name.ends_with(".map") {
                "application/json; charset=utf-8"
            } else {
                "application/javascript; charset=utf-8"
            };
            files.insert(
                name,
                File {
                    gzip: gzip(&data),
                    deflate: deflate(&data),
                    identity: Bytes::from(data),
                    content_type: HeaderValue::from_static(content_type),
                },
            );
        }
        Ok(Self {
            version,
            etag,
            files,
        })
    }

    /// The client's version (its `ETag`, unquoted).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The answer to a GET of file `name` with request headers `req`; `None` when
    /// `name` is not a client file.
    pub fn respond(&self, name: &str, req: &HeaderMap) -> Option<Response<Bytes>> {
        let file = self.files.get(name)?;
        let weak = format!("W/{}", self.version_tag());
        if let Some(tag) = req.get(header::IF_NONE_MATCH) {
            if tag.as_bytes() == self.etag.as_bytes() || tag.as_bytes() == weak.as_bytes() {
                let mut res = Response::new(Bytes::new());
                *res.status_mut() = StatusCode::NOT_MODIFIED;
                return Some(res);
            }
        }
        let encoding = negotiate(req.get(header::ACCEPT_ENCODING));
        let body = match encoding {
            Encoding::Identity => file.identity.clone(),
            Encoding::Gzip => file.gzip.clone(),
            Encoding::Deflate => file.deflate.clone(),
        };
        let mut res = Response::new(body);
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        h.insert(header::CONTENT_TYPE, file.content_type.clone());
        h.insert(header::ETAG, self.etag.clone());
        match encoding {
            Encoding::Identity => {}
            Encoding::Gzip => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Encoding::Deflate => {
                h.insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static("deflate"),
                );
            }
        }
        Some(res)
    }

    fn version_tag(&self) -> &str {
        self.etag.to_str().unwrap_or_default()
    }
}

fn gzip(data: &[u8]) -> Bytes {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    Bytes::from(e.finish().unwrap_or_default())
}

fn deflate(data: &[u8]) -> Bytes {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    let _ = e.write_all(data);
    Bytes::from(e.finish().unwrap_or_default())
}

/// The encoding to answer with, as the `accepts` package Node uses chooses among
/// `br, gzip, deflate`: the highest `q` the request gives (a `*` counts for each), the
/// server's order on ties — brotli left out, which we do not produce.
fn negotiate(accept: Option<&HeaderValue>) -> Encoding {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Encoding::Identity;
    };
    let mut best = (Encoding::Identity, 0.0f32);
    for (encoding, name) in [(Encoding::Gzip, "gzip"), (Encoding::Deflate, "deflate")] {
        let q = quality(accept, name);
        if q > best.1 {
            best = (encoding, q);
        }
    }
    best.0
}

/// The `q` of `name` in an `Accept-Encoding` value (that of `*` when `name` is absent; 0
/// when neither is there).
fn quality(accept: &str, name: &str) -> f32 {
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if token.eq_ignore_ascii_case(name) {
            return q;
        }
        if token == "*" {
            star = Some(q);
        }
    }
    star.unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn negotiates_like_accepts() {
        assert_eq!(negotiate(None), Encoding::Identity);
        assert_eq!(negotiate(Some(&hv("gzip, deflate, br"))), Encoding::Gzip);
        assert_eq!(negotiate(Some(&hv("br"))), Encoding::Identity);
        assert_eq!(negotiate(Some(&hv("deflate"))), Encoding::Deflate);
        assert_eq!(
            negotiate(Some(&hv("gzip;q=0.5, deflate"))),
            Encoding::Deflate
        );
        assert_eq!(negotiate(Some(&hv("gzip;q=0"))), Encoding::Identity);
        assert_eq!(negotiate(Some(&hv("*"))), Encoding::Gzip);
        assert_eq!(negotiate(Some(&hv("identity"))), Encoding::Identity);
    }

    fn bundle() -> Option<ClientBundle> {
        let dir = Path::new(crate::serve::config::DEFAULT_CLIENT_DIR);
        // The bundle is installed by scripts/setup.sh and scripts/test.sh.
        ClientBundle::load(dir).ok()
    }

    #[test]
    fn serves_like_socket_io() {
        let bundle = bundle().expect("run ./scripts/setup.sh: socket.io-client missing");
        assert!(bundle.version().starts_with("4.8."));
        let tag = format!("\"{}\"", bundle.version());

        let res = bundle.respond("socket.io.js", &HeaderMap::new()).unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
        assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=0");
        assert_eq!(res.headers()[header::ETAG], tag.as_str());
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
        assert!(std::str::from_utf8(res.body())
            .unwrap()
            .contains(bundle.version()));

        let map = bundle
            .respond("socket.io.min.js.map", &HeaderMap::new())
            .unwrap();
        assert_eq!(
            map.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );

        for t in [tag.clone(), format!("W/{tag}")] {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, hv(&t));
            let res = bundle.respond("socket.io.min.js", &h).unwrap();
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
            assert!(res.body().is_empty());
        }
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, hv("\"1.0.0\""));
        assert_eq!(
            bundle.respond("socket.io.min.js", &h).unwrap().status(),
            StatusCode::OK
        );

        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, hv("gzip"));
        let res = bundle.respond("socket.io.esm.min.js", &h).unwrap();
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        let mut plain = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&res.body()[..]),
            &mut plain,
        )
        .unwrap();
        let identity = bundle
            .respond("socket.io.esm.min.js", &HeaderMap::new())
            .unwrap();
        assert_eq!(plain.as_bytes(), &identity.body()[..]);

        assert!(bundle.respond("index.js", &HeaderMap::new()).is_none());
        assert!(bundle
            .respond("../package.json", &HeaderMap::new())
            .is_none());
    }

    #[test]
    fn a_missing_bundle_says_how_to_install_it() {
        let err = ClientBundle::load(Path::new("/nonexistent/dist"))
            .err()
            .unwrap();
        assert!(err.contains("scripts/setup.sh"), "{err}");
        assert!(!err.contains('\n'));
    }
}
