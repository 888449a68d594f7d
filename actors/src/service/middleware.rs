//! Middleware: code that runs around every handler of a service (authentication, logging,
//! metrics). Each [`Middleware`] gets the request and the rest of the chain as [`Next`]; it may
//! answer itself (an error, a cached reply), change the request, or call `next.run(req)` and
//! look at the reply.
//!
//! ```
//! use ores_actors::service::{BoxFuture, Middleware, Next, ServiceRequest, ServiceResult};
//!
//! /// Logs every request with its outcome.
//! #[derive(Debug)]
//! struct LogRequests;
//!
//! impl Middleware for LogRequests {
//!     fn call<'a>(&'a self, req: ServiceRequest, next: Next<'a>) -> BoxFuture<'a, ServiceResult> {
//!         Box::pin(async move {
//!             let endpoint = req.ctx.endpoint().name.clone();
//!             let reply = next.run(req).await;
//!             tracing::info!(%endpoint, ok = reply.is_ok(), "request served");
//!             reply
//!         })
//!     }
//! }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_nats::HeaderMap;
use bytes::Bytes;

use crate::nats::Codec;
use crate::nats::codec::parse_content_type;
use crate::nats::headers::{CONTENT_TYPE, name};

use super::context::RequestContext;
use super::error::ServiceError;
use super::handler::{BoxFuture, Handler};

/// A request on its way to the handler: its context and its body, not yet decoded.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// What is known of the request.
    pub ctx: RequestContext,
    /// The body as it arrived.
    pub body: Bytes,
}

/// A successful reply: its headers (the format, `Content-Type`) and its encoded body.
#[derive(Debug, Clone, Default)]
pub struct ServiceReply {
    /// The reply's headers.
    pub headers: HeaderMap,
    /// The encoded body.
    pub body: Bytes,
}

/// What the chain returns: a reply, or the error sent back instead.
pub type ServiceResult = Result<ServiceReply, ServiceError>;

/// Code around every handler of a service. Added with
/// [`ServiceBuilder::middleware`](super::ServiceBuilder::middleware); they run in the order
/// added, the first outermost.
pub trait Middleware: Send + Sync + fmt::Debug + 'static {
    /// Serves `req`, usually by calling `next.run(req)`.
    fn call<'a>(&'a self, req: ServiceRequest, next: Next<'a>) -> BoxFuture<'a, ServiceResult>;
}

/// The rest of the chain: the following middleware, then the handler.
pub struct Next<'a> {
    rest: &'a [Arc<dyn Middleware>],
    endpoint: &'a dyn Endpoint,
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("middleware_left", &self.rest.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Next<'a> {
    pub(crate) fn new(chain: &'a [Arc<dyn Middleware>], endpoint: &'a dyn Endpoint) -> Self {
        Self {
            rest: chain,
            endpoint,
        }
    }

    /// Passes `req` on: to the next middleware, or to the handler.
    pub fn run(self, req: ServiceRequest) -> BoxFuture<'a, ServiceResult> {
        match self.rest.split_first() {
            Some((first, rest)) => first.call(
                req,
                Next {
                    rest,
                    endpoint: self.endpoint,
                },
            ),
            None => self.endpoint.call(req),
        }
    }
}

/// A handler with its types erased: decodes, calls, encodes.
pub(crate) trait Endpoint: Send + Sync + 'static {
    fn call(&self, req: ServiceRequest) -> BoxFuture<'static, ServiceResult>;
}

/// A typed handler, its state and the service's codec.
pub(crate) struct Typed<H, T, S> {
    pub(crate) handler: H,
    pub(crate) state: S,
    pub(crate) codec: Codec,
    pub(crate) _shape: PhantomData<fn() -> T>,
}

impl<H, T, S> Endpoint for Typed<H, T, S>
where
    H: Handler<T, S>,
    S: Clone + Send + Sync + 'static,
    T: 'static,
{
    fn call(&self, req: ServiceRequest) -> BoxFuture<'static, ServiceResult> {
        let headers = req.ctx.raw_headers.as_ref();
        // The reply goes back in the caller's format when it marked its own.
        // The reply goes back in the caller's format, marked, when it marked its own; else
        // unmarked in the service's format (ORE's own clients send and read unmarked bodies).
        let marked = headers
            .and_then(|h| h.get(name(CONTENT_TYPE)))
            .and_then(|v| parse_content_type(v.as_str()));
        let codec = marked.map_or(self.codec, |format| self.codec.with_format(format));
        let decoded = if req.body.is_empty() {
            // An empty body reads as "nothing": `()`, `None`, a struct of defaults.
            decode_empty::<H::Request>(codec)
        } else {
            self.codec.decode::<H::Request>(headers, &req.body)
        };
        let request = match decoded {
            Ok(request) => request,
            Err(e) => {
                let err = ServiceError::bad_request(format!(
                    "the request body does not decode as {}: {e}",
                    short_type_name::<H::Request>()
                ));
                return Box::pin(std::future::ready(Err(err)));
            }
        };
        let fut = self.handler.call(&self.state, req.ctx, request);
        Box::pin(async move {
            let response = fut.await?;
            let encoded = codec.encode(&response).map_err(|e| {
                ServiceError::internal(format!("the reply could not be encoded: {e}"))
            })?;
            let mut headers = HeaderMap::new();
            if marked.is_some() || encoded.compressed {
                encoded.write_headers(&mut headers);
            }
            Ok(ServiceReply {
                headers,
                body: encoded.body,
            })
        })
    }
}

fn decode_empty<T: serde::de::DeserializeOwned>(
    codec: Codec,
) -> Result<T, crate::nats::error::CodecError> {
    use ores_runtime::config::WireFormat;
    let nothing: &[u8] = match codec.format() {
        WireFormat::Msgpack => &[0xc0],
        WireFormat::Json => b"null",
    };
    codec.decode(None, nothing)
}

fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    // `alloc::vec::Vec<app::Currency>` → `Vec<Currency>`: keep the last segment of each path.
    let mut out = String::with_capacity(full.len());
    let mut token = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            token.push(c);
        } else {
            out.push_str(token.rsplit("::").next().unwrap_or(&token));
            token.clear();
            out.push(c);
        }
    }
    out.push_str(token.rsplit("::").next().unwrap_or(&token));
    out
}
