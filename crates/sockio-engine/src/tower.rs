//! The engine as a tower service: [`EngineService`], its path alone (what `serve` runs).
//! Mounting it in front of another service is in `layer` (feature `layer`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http::Response;
use http_body::Body;
use http_body_util::Full;

use crate::engine::Engine;
use crate::response::not_found;
use crate::BoxError;

impl<D: Default + Send + Sync + 'static> Engine<D> {
    /// This engine as a tower service answering its own path and 404 to anything else.
    pub fn service(&self) -> EngineService<D> {
        EngineService {
            engine: self.clone(),
        }
    }
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An [`Engine`] as a tower service: its own path, 404 for any other.
pub struct EngineService<D> {
    engine: Engine<D>,
}

impl<D> Clone for EngineService<D> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

impl<D, B> tower_service::Service<Request<B>> for EngineService<D>
where
    D: Default + Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let engine = self.engine.clone();
        Box::pin(async move {
            if engine.matches(req.uri().path()) {
                Ok(engine.handle(req).await)
            } else {
                Ok(not_found())
            }
        })
    }
}
