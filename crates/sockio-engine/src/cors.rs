//! [`Cors`]: the CORS policy, as the npm `cors` package applies it to Engine.IO requests.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Which origins a [`Cors`] policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowOrigin {
    /// `Access-Control-Allow-Origin: *`.
    Any,
    /// Reflect the request's `Origin`.
    Mirror,
    /// One fixed origin, sent whatever the request's origin is.
    Exact(String),
    /// Reflect the request's origin when it is in the list.
    List(Vec<String>),
}

/// A CORS policy.
///
/// ```
/// use sockio_engine::cors::{AllowOrigin, Cors};
/// let cors = Cors::new(AllowOrigin::Mirror).credentials(true);
/// assert!(cors.allow_credentials);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cors {
    /// Allowed origins.
    pub origin: AllowOrigin,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// Methods listed on preflight (default `GET,HEAD,PUT,PATCH,POST,DELETE`).
    pub methods: String,
    /// Headers allowed on preflight; `None` reflects `Access-Control-Request-Headers`.
    pub allowed_headers: Option<String>,
    /// `Access-Control-Expose-Headers`.
    pub exposed_headers: Option<String>,
    /// `Access-Control-Max-Age` seconds on preflight.
    pub max_age: Option<u64>,
}

impl Cors {
    /// A policy allowing `origin`, with the `cors` package's other defaults.
    pub fn new(origin: AllowOrigin) -> Self {
        Self {
            origin,
            allow_credentials: false,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".into(),
            allowed_headers: None,
            exposed_headers: None,
            max_age: None,
        }
    }

    /// Sets `Access-Control-Allow-Credentials`.
    pub fn credentials(mut self, yes: bool) -> Self {
        self.allow_credentials = yes;
        self
    }

    /// Sets the preflight methods.
    pub fn methods(mut self, methods: impl Into<String>) -> Self {
        self.methods = methods.into();
        self
    }

    /// Sets the preflight allowed headers (instead of reflecting the request's).
    pub fn allowed_headers(mut self, headers: impl Into<String>) -> Self {
        self.allowed_headers = Some(headers.into());
        self
    }

    /// Adds the CORS headers of a response to a request with headers `req`.
    pub(crate) fn apply(&self, req: &HeaderMap, out: &mut HeaderMap, preflight: bool) {
        let origin = req.get(header::ORIGIN).map(HeaderValue::as_bytes);
        let request_headers = req
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .map(HeaderValue::as_bytes);
        self.each_header(origin, request_headers, preflight, |name, value| {
            // `each_header` gives only valid values.
            if let Ok(value) = HeaderValue::from_bytes(value) {
                out.insert(name, value);
            }
        });
    }

    /// Calls `emit` with each CORS header of the response to a request whose `Origin` is
    /// `origin` and whose `Access-Control-Request-Headers` is `request_headers` (valid
    /// header values both, as parsed), in the order they are written. Each name comes at
    /// most once; a configured value that cannot be a header value is left out.
    pub(crate) fn each_header(
        &self,
        origin: Option<&[u8]>,
        request_headers: Option<&[u8]>,
        preflight: bool,
        mut emit: impl FnMut(HeaderName, &[u8]),
    ) {
        let valid = |v: &[u8]| v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        let (allow, vary_origin) = match &self.origin {
            AllowOrigin::Any => (Some(&b"*"[..]), false),
            AllowOrigin::Exact(o) => (Some(o.as_bytes()).filter(|o| valid(o)), true),
            AllowOrigin::Mirror => (origin, true),
            AllowOrigin::List(list) => (
                origin.filter(|o| list.iter().any(|l| l.as_bytes() == *o)),
                true,
            ),
        };
        if let Some(v) = allow {
            emit(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if self.allow_credentials {
            emit(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, b"true");
        }
        if let Some(e) = self
            .exposed_headers
            .as_deref()
            .filter(|e| valid(e.as_bytes()))
        {
            emit(header::ACCESS_CONTROL_EXPOSE_HEADERS, e.as_bytes());
        }
        let mut vary: &[u8] = if vary_origin { b"Origin" } else { b"" };
        if preflight {
            if valid(self.methods.as_bytes()) {
                emit(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    self.methods.as_bytes(),
                );
            }
            match &self.allowed_headers {
                Some(h) => {
                    if valid(h.as_bytes()) {
                        emit(header::ACCESS_CONTROL_ALLOW_HEADERS, h.as_bytes());
                    }
                }
                None => {
                    vary = if vary_origin {
                        b"Origin, Access-Control-Request-Headers"
                    } else {
                        b"Access-Control-Request-Headers"
                    };
                    if let Some(h) = request_headers {
                        emit(header::ACCESS_CONTROL_ALLOW_HEADERS, h);
                    }
                }
            }
            if let Some(age) = self.max_age {
                emit(header::ACCESS_CONTROL_MAX_AGE, age.to_string().as_bytes());
            }
        }
        if !vary.is_empty() {
            emit(header::VARY, vary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h
    }

    #[test]
    fn any_origin() {
        let mut out = HeaderMap::new();
        Cors::new(AllowOrigin::Any).apply(&req("http://a"), &mut out, false);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(out.get(header::VARY).is_none());
    }

    #[test]
    fn preflight_reflects_headers() {
        let mut out = HeaderMap::new();
        Cors::new(AllowOrigin::Mirror)
            .credentials(true)
            .apply(&req("http://a"), &mut out, true);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://a");
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            out[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET,HEAD,PUT,PATCH,POST,DELETE"
        );
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
        assert_eq!(out[header::VARY], "Origin, Access-Control-Request-Headers");
    }

    #[test]
    fn list_only_reflects_matches() {
        let cors = Cors::new(AllowOrigin::List(vec!["http://ok".into()]));
        let mut out = HeaderMap::new();
        cors.apply(&req("http://evil"), &mut out, false);
        assert!(out.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        cors.apply(&req("http://ok"), &mut out, false);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://ok");
    }
}
