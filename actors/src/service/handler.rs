//! Endpoint handlers: plain async functions taking the decoded request and, where they need
//! them, the service's shared [`State`] and the [`RequestContext`], in the style of axum.
//!
//! Four shapes are accepted (`Req: DeserializeOwned`, `Resp: Serialize`,
//! `E: Into<ServiceError>`):
//!
//! ```text
//! async fn h(req: Req) -> Result<Resp, E>
//! async fn h(ctx: RequestContext, req: Req) -> Result<Resp, E>
//! async fn h(State(s): State<S>, req: Req) -> Result<Resp, E>
//! async fn h(State(s): State<S>, ctx: RequestContext, req: Req) -> Result<Resp, E>
//! ```

use std::future::Future;

use futures::TryFutureExt;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::RequestContext;
use super::error::ServiceError;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The service's shared state, handed to handlers that ask for it (a clone per request: wrap
/// big state in an `Arc`, or hold a pool, which is one already).
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

/// An async function that serves an endpoint. Implemented for four shapes of async fn:
/// `(Req)`, `(RequestContext, Req)`, `(State<S>, Req)` and `(State<S>, RequestContext, Req)`
/// (see [the service module](crate::service)); `T` only tells them apart.
pub trait Handler<T, S>: Clone + Send + Sync + 'static {
    /// The decoded request body.
    type Request: DeserializeOwned + Send + 'static;
    /// The response body, encoded in the caller's format.
    type Response: Serialize + Send + 'static;
    /// The future serving one request.
    type Future: Future<Output = Result<Self::Response, ServiceError>> + Send + 'static;

    /// Serves one request.
    fn call(&self, state: &S, ctx: RequestContext, request: Self::Request) -> Self::Future;
}

/// The future of a handler whose error type is `E`: its error turned into a
/// [`ServiceError`] (no allocation).
pub type HandlerFuture<Fut, E> = futures::future::MapErr<Fut, fn(E) -> ServiceError>;

impl<F, Fut, Req, Resp, E, S> Handler<(Req,), S> for F
where
    F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, E>> + Send + 'static,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    E: Into<ServiceError> + 'static,
{
    type Request = Req;
    type Response = Resp;
    type Future = HandlerFuture<Fut, E>;

    fn call(&self, _state: &S, _ctx: RequestContext, request: Req) -> Self::Future {
        self(request).map_err(Into::into as fn(E) -> ServiceError)
    }
}

impl<F, Fut, Req, Resp, E, S> Handler<(RequestContext, Req), S> for F
where
    F: Fn(RequestContext, Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, E>> + Send + 'static,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    E: Into<ServiceError> + 'static,
{
    type Request = Req;
    type Response = Resp;
    type Future = HandlerFuture<Fut, E>;

    fn call(&self, _state: &S, ctx: RequestContext, request: Req) -> Self::Future {
        self(ctx, request).map_err(Into::into as fn(E) -> ServiceError)
    }
}

impl<F, Fut, Req, Resp, E, S> Handler<(State<S>, Req), S> for F
where
    F: Fn(State<S>, Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, E>> + Send + 'static,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    E: Into<ServiceError> + 'static,
    S: Clone,
{
    type Request = Req;
    type Response = Resp;
    type Future = HandlerFuture<Fut, E>;

    fn call(&self, state: &S, _ctx: RequestContext, request: Req) -> Self::Future {
        self(State(state.clone()), request).map_err(Into::into as fn(E) -> ServiceError)
    }
}

impl<F, Fut, Req, Resp, E, S> Handler<(State<S>, RequestContext, Req), S> for F
where
    F: Fn(State<S>, RequestContext, Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, E>> + Send + 'static,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    E: Into<ServiceError> + 'static,
    S: Clone,
{
    type Request = Req;
    type Response = Resp;
    type Future = HandlerFuture<Fut, E>;

    fn call(&self, state: &S, ctx: RequestContext, request: Req) -> Self::Future {
        self(State(state.clone()), ctx, request).map_err(Into::into as fn(E) -> ServiceError)
    }
}
