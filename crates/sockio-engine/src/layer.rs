//! Mounting an engine in front of another service (an axum `Router`, say):
//! [`EngineLayer`] and the service it makes, [`EngineMiddleware`]. Feature `layer` (on by
//! default).

use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http::Response;
use http_body::Body;
use http_body_util::{Either, Full};

use crate::engine::Engine;
use crate::tower::BoxFuture;
use crate::BoxError;

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// A tower layer that answers this engine's path and passes other requests on.
    pub fn layer(&self) -> EngineLayer<D> {
        EngineLayer {
            engine: self.clone(),
        }
    }
}

/// A tower layer mounting an [`Engine`] in front of another service.
pub struct EngineLayer<D> {
    engine: Engine<D>,
}

impl<D> Clone for EngineLayer<D> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

impl<D, S> tower_layer::Layer<S> for EngineLayer<D> {
    type Service = EngineMiddleware<D, S>;
    fn layer(&self, inner: S) -> Self::Service {
        EngineMiddleware {
            engine: self.engine.clone(),
            inner,
        }
    }
}

/// The service made by [`EngineLayer`]: Engine.IO requests to the engine, the rest to
/// the inner service.
pub struct EngineMiddleware<D, S> {
    engine: Engine<D>,
    inner: S,
}

impl<D, S: Clone> Clone for EngineMiddleware<D, S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<D, S, B, ResBody> tower_service::Service<Request<B>> for EngineMiddleware<D, S>
where
    D: Default + Send + Sync + 'static,
    S: tower_service::Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.engine.matches(req.uri().path()) {
            let engine = self.engine.clone();
            Box::pin(async move { Ok(engine.handle(req).await.map(Either::Left)) })
        } else {
            let fut = self.inner.call(req);
            Box::pin(async move { Ok(fut.await?.map(Either::Right)) })
        }
    }
}
