//! [`Cors`]: the CORS policy, as the npm `cors` package applies it to Engine.IO requests.

use http::header::{self, HeaderMap, HeaderValue};

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
        let origin = req.get(header::ORIGIN);
        let (allow, vary_origin) = match &self.origin {
            AllowOrigin::Any => (Some(HeaderValue::from_static("*")), false),
            AllowOrigin::Exact(o) => (HeaderValue::from_str(o).ok(), true),
            AllowOrigin::Mirror => (origin.cloned(), true),
            AllowOrigin::List(list) => (
                origin
                    .filter(|o| list.iter().any(|l| l.as_bytes() == o.as_bytes()))
                    .cloned(),
                true,
            ),
        };
        if let Some(v) = allow {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if self.allow_credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(e) = self
            .exposed_headers
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, e);
        }
        let mut vary: Vec<&str> = Vec::new();
        if vary_origin {
            vary.push("Origin");
        }
        if preflight {
            if let Ok(m) = HeaderValue::from_str(&self.methods) {
                out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m);
            }
            match &self.allowed_headers {
                Some(h) => {
                    if let Ok(h) = HeaderValue::from_str(h) {
                        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h);
                    }
                }
                None => {
                    vary.push("Access-Control-Request-Headers");
                    if let Some(h) = req.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
                    }
                }
            }
            if let Some(age) = self.max_age {
                out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
            }
        }
        if !vary.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&vary.join(", ")) {
                out.insert(header::VARY, v);
            }
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
