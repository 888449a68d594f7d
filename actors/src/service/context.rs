//! [`RequestContext`]: what a handler (and middleware) knows about the request it serves.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use tokio::time::Instant;

use crate::nats::RequestHeaders;

use super::auth::Principal;

/// The request being served: ORE's headers (correlation id, session, workspace, tenant,
/// tokens, trace context), the subject, the endpoint, the deadline and, once a
/// [`BearerAuth`](super::auth::BearerAuth) middleware has checked the token, the caller.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// ORE's request headers, read from the message (a missing correlation id is generated).
    pub headers: RequestHeaders,
    /// The subject the request arrived on (with the prefix).
    pub subject: async_nats::Subject,
    /// The caller, when an authentication middleware has verified a token.
    pub principal: Option<Principal>,
    pub(crate) endpoint: Arc<EndpointMeta>,
    pub(crate) deadline: Instant,
    pub(crate) received: Instant,
    pub(crate) raw_headers: Option<HeaderMap>,
    /// The correlation id made for a request that came without one, on first use.
    pub(crate) generated_id: std::sync::OnceLock<String>,
}

/// An endpoint's identity, as middleware sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMeta {
    /// The endpoint's protocol name.
    pub name: String,
    /// Its relative subject (without the prefix).
    pub subject: String,
    /// The permission a caller needs, if the endpoint declares one (checked by
    /// [`BearerAuth`](super::auth::BearerAuth)).
    pub permission: Option<String>,
}

impl RequestContext {
    /// The correlation id (propagated from the caller, else generated once, on first use).
    pub fn correlation_id(&self) -> &str {
        if self.headers.correlation_id.is_empty() {
            self.generated_id
                .get_or_init(crate::nats::headers::new_correlation_id)
        } else {
            &self.headers.correlation_id
        }
    }

    /// The tenant: the verified caller's when there is one, else the `X-Tenant-Id` header.
    pub fn tenant_id(&self) -> Option<&str> {
        self.principal
            .as_ref()
            .and_then(|p| p.tenant_id.as_deref())
            .or(self.headers.tenant_id.as_deref())
    }

    /// The endpoint serving the request.
    pub fn endpoint(&self) -> &EndpointMeta {
        &self.endpoint
    }

    /// When the request must be answered: the earlier of the service's deadline and the
    /// caller's (`X-Timeout-Ms`). Past it the handler is cancelled and the caller gets 504.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The time left before the deadline (zero once passed). Pass it on to downstream calls.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// When the request arrived.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// The message's headers as they arrived, for headers ORE does not define.
    pub fn raw_headers(&self) -> Option<&HeaderMap> {
        self.raw_headers.as_ref()
    }
}
