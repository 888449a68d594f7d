//! ORE's message headers: names, the typed [`RequestHeaders`], W3C [`TraceParent`] and the
//! [`ErrorCode`]s of `X-Error`.
//!
//! Header names are `&str` constants (NATS header names are case-sensitive; these are spelt as
//! ORE spells them) and can be passed to `HeaderMap::get` and `HeaderMap::insert` directly.

use std::fmt;
use std::str::FromStr;

use async_nats::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use super::error::{HeaderError, TraceParentError, TraceParentErrorReason};

/// `Authorization: Bearer <jwt>`: the caller's token.
pub const AUTHORIZATION: &str = "Authorization";
/// `X-Delegated-Authorization: Bearer <jwt>`: a token acting on behalf of someone; checked
/// before `Authorization`.
pub const DELEGATED_AUTHORIZATION: &str = "X-Delegated-Authorization";
/// The request's correlation id, propagated across services.
pub const CORRELATION_ID: &str = "Nats-Correlation-Id";
/// The caller's session id.
pub const SESSION_ID: &str = "Nats-Session-Id";
/// The workspace the request acts in.
pub const WORKSPACE_ID: &str = "X-Workspace-Id";
/// The workspace resolution chain, a comma-separated list of workspace ids.
pub const WORKSPACE_RESOLUTION: &str = "X-Workspace-Resolution";
/// The tenant the request acts for.
pub const TENANT_ID: &str = "X-Tenant-Id";
/// The workflow step a request belongs to.
pub const WORKFLOW_STEP_ID: &str = "X-Workflow-Step-Id";
/// The workflow instance a request belongs to.
pub const WORKFLOW_INSTANCE_ID: &str = "X-Workflow-Instance-Id";
/// `gzip` when the body is gzipped.
pub const CONTENT_ENCODING: &str = "X-Content-Encoding";
/// The body's format, `application/msgpack` or `application/json` (not sent by ORE).
pub const CONTENT_TYPE: &str = "Content-Type";
/// The error code of an error reply with an empty body; see [`ErrorCode`].
pub const ERROR: &str = "X-Error";
/// W3C trace context: the caller's span; see [`TraceParent`].
pub const TRACEPARENT: &str = "traceparent";
/// W3C trace context: vendor-specific trace state, passed through untouched.
pub const TRACESTATE: &str = "tracestate";
/// `Nats-Service-Error`: the error's description on a service's error reply (ADR-32).
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// `Nats-Service-Error-Code`: the error's numeric code on a service's error reply (ADR-32).
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// `X-Timeout-Ms`: the time the caller still gives a request, in milliseconds, when it is
/// sent; a service cancels the handler past it.
pub const TIMEOUT_MS: &str = "X-Timeout-Ms";

/// The scheme of token headers.
const BEARER: &str = "Bearer";

/// A bearer token (a JWT). Its `Debug` never shows it; read it with
/// [`expose`](Self::expose).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wraps a token (without the `Bearer ` scheme).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The W3C trace context `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
///
/// A service that receives a request continues its trace with [`child`](Self::child): same
/// trace id and flags, a new span id.
///
/// ```
/// use ores_actors::nats::TraceParent;
///
/// # fn main() -> Result<(), ores_actors::nats::TraceParentError> {
/// let incoming: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// let outgoing = incoming.child();
/// assert_eq!(outgoing.trace_id(), incoming.trace_id());
/// assert_ne!(outgoing.parent_id(), incoming.parent_id());
/// assert!(outgoing.sampled());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// The `sampled` flag.
    pub const SAMPLED: u8 = 0x01;

    /// The start of a new trace: random trace and span ids, sampled.
    pub fn new_root() -> Self {
        Self {
            trace_id: nonzero_random(),
            parent_id: nonzero_random(),
            flags: Self::SAMPLED,
        }
    }

    /// From raw parts.
    ///
    /// # Errors
    ///
    /// [`TraceParentError`] when an id is all zeros.
    pub fn from_parts(
        trace_id: [u8; 16],
        parent_id: [u8; 8],
        flags: u8,
    ) -> Result<Self, TraceParentError> {
        let value = Self {
            trace_id,
            parent_id,
            flags,
        };
        check_nonzero(&value.to_string(), &trace_id, &parent_id)?;
        Ok(value)
    }

    /// A span of the same trace, with the same flags, whose parent is this span.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            parent_id: nonzero_random(),
            flags: self.flags,
        }
    }

    /// The 16-byte trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The 8-byte id of the caller's span.
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace flags.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the `sampled` flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & Self::SAMPLED != 0
    }
}

fn nonzero_random<const N: usize>() -> [u8; N] {
    loop {
        let bytes: [u8; N] = rand::random();
        if bytes.iter().any(|&b| b != 0) {
            return bytes;
        }
    }
}

fn check_nonzero(input: &str, trace_id: &[u8], parent_id: &[u8]) -> Result<(), TraceParentError> {
    if trace_id.iter().all(|&b| b == 0) {
        return Err(TraceParentError::new(
            input,
            TraceParentErrorReason::AllZero { field: "trace id" },
        ));
    }
    if parent_id.iter().all(|&b| b == 0) {
        return Err(TraceParentError::new(
            input,
            TraceParentErrorReason::AllZero { field: "parent id" },
        ));
    }
    Ok(())
}

/// Lowercase hex into `out`; `false` when `hex` is not lowercase hex of the right length.
fn decode_hex(hex: &str, out: &mut [u8]) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if hex.len() != out.len() * 2 {
        return false;
    }
    for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *slot = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| Err(TraceParentError::new(s, reason));
        let fields: Vec<&str> = s.split('-').collect();
        let [version, trace, parent, flags] = fields[..] else {
            return err(TraceParentErrorReason::Shape);
        };
        if version.len() != 2 || trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
            return err(TraceParentErrorReason::Shape);
        }
        let mut v = [0u8; 1];
        if !decode_hex(version, &mut v) {
            return err(TraceParentErrorReason::NotHex { field: "version" });
        }
        if v[0] != 0 {
            return err(TraceParentErrorReason::Version);
        }
        let mut trace_id = [0u8; 16];
        if !decode_hex(trace, &mut trace_id) {
            return err(TraceParentErrorReason::NotHex { field: "trace id" });
        }
        let mut parent_id = [0u8; 8];
        if !decode_hex(parent, &mut parent_id) {
            return err(TraceParentErrorReason::NotHex { field: "parent id" });
        }
        let mut f = [0u8; 1];
        if !decode_hex(flags, &mut f) {
            return err(TraceParentErrorReason::NotHex {
                field: "flags field",
            });
        }
        check_nonzero(s, &trace_id, &parent_id)?;
        Ok(Self {
            trace_id,
            parent_id,
            flags: f[0],
        })
    }
}

impl TraceParent {
    /// The header value, `00-<trace id>-<parent id>-<flags>` (55 ASCII bytes), written through
    /// a lookup table: this is on every request's path.
    fn encode(&self) -> [u8; 55] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 55];
        out[0] = b'0';
        out[1] = b'0';
        let mut at = 3;
        for (i, b) in self
            .trace_id
            .iter()
            .chain(self.parent_id.iter())
            .enumerate()
        {
            if i == 16 {
                at += 1; // the `-` between the ids
            }
            out[at] = HEX[usize::from(b >> 4)];
            out[at + 1] = HEX[usize::from(b & 0x0f)];
            at += 2;
        }
        out[53] = HEX[usize::from(self.flags >> 4)];
        out[54] = HEX[usize::from(self.flags & 0x0f)];
        out
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.encode();
        // Only ASCII hex digits and `-` are written.
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

/// The typed request headers every ORE request carries.
///
/// ```
/// use ores_actors::nats::{RequestHeaders, Token};
///
/// # fn main() -> Result<(), ores_actors::nats::HeaderError> {
/// let mut outgoing = RequestHeaders::new(); // a fresh UUIDv7 correlation id
/// outgoing.bearer_token = Some(Token::new("user.jwt"));
/// outgoing.tenant_id = Some("tenant-1".into());
///
/// let incoming = RequestHeaders::from_header_map(&outgoing.to_header_map())?;
/// assert_eq!(incoming.correlation_id, outgoing.correlation_id); // propagated
/// assert_eq!(incoming.effective_token().map(|t| t.expose()), Some("user.jwt"));
/// assert!(!format!("{incoming:?}").contains("user.jwt"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeaders {
    /// `Nats-Correlation-Id`: propagated when present, else a new UUIDv7.
    pub correlation_id: String,
    /// `Nats-Session-Id`.
    pub session_id: Option<String>,
    /// `X-Workspace-Id`.
    pub workspace_id: Option<String>,
    /// `X-Workspace-Resolution`, a comma-separated list on the wire.
    pub workspace_resolution: Vec<String>,
    /// `X-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// `X-Workflow-Step-Id`.
    pub workflow_step_id: Option<String>,
    /// `X-Workflow-Instance-Id`.
    pub workflow_instance_id: Option<String>,
    /// `Authorization: Bearer <token>`.
    pub bearer_token: Option<Token>,
    /// `X-Delegated-Authorization: Bearer <token>`; wins over `bearer_token`.
    pub delegated_token: Option<Token>,
    /// `traceparent`.
    pub traceparent: Option<TraceParent>,
    /// `tracestate`, passed through untouched.
    pub tracestate: Option<String>,
}

impl Default for RequestHeaders {
    /// Same as [`RequestHeaders::new`].
    fn default() -> Self {
        Self::new()
    }
}

/// A header name from one of this module's constants: no validation, no allocation (a `&str`
/// name given to async-nats is validated and copied on every call).
pub(crate) const fn name(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// A new correlation id: a UUIDv7 (time-ordered), hyphenated.
pub fn new_correlation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn non_empty(headers: &HeaderMap, header: &'static str) -> Option<String> {
    headers
        .get(name(header))
        .map(|v| v.as_str().trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The token of a `Bearer <token>` header value; `scheme_required` refuses a bare token.
fn bearer(
    headers: &HeaderMap,
    header: &'static str,
    scheme_required: bool,
) -> Result<Option<Token>, HeaderError> {
    let Some(value) = headers.get(name(header)) else {
        return Ok(None);
    };
    let value = value.as_str().trim();
    if value.is_empty() {
        return Ok(None);
    }
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(BEARER) => rest.trim(),
        Some((scheme, _)) if scheme_required => {
            return Err(HeaderError::AuthorizationScheme {
                header,
                scheme: scheme.to_owned(),
            });
        }
        None if value.eq_ignore_ascii_case(BEARER) => "",
        None if scheme_required => {
            // A bare value: never print what may be a token.
            return Err(HeaderError::MissingScheme { header });
        }
        _ => value,
    };
    if token.is_empty() {
        return Err(HeaderError::EmptyToken { header });
    }
    Ok(Some(Token::new(token)))
}

impl RequestHeaders {
    /// Headers for a new request: a fresh UUIDv7 correlation id, nothing else.
    pub fn new() -> Self {
        Self {
            correlation_id: new_correlation_id(),
            session_id: None,
            workspace_id: None,
            workspace_resolution: Vec::new(),
            tenant_id: None,
            workflow_step_id: None,
            workflow_instance_id: None,
            bearer_token: None,
            delegated_token: None,
            traceparent: None,
            tracestate: None,
        }
    }

    /// Headers with nothing set, not even a correlation id (one is made when they are sent).
    #[cfg_attr(not(feature = "service"), allow(dead_code))]
    pub(crate) fn blank() -> Self {
        Self {
            correlation_id: String::new(),
            session_id: None,
            workspace_id: None,
            workspace_resolution: Vec::new(),
            tenant_id: None,
            workflow_step_id: None,
            workflow_instance_id: None,
            bearer_token: None,
            delegated_token: None,
            traceparent: None,
            tracestate: None,
        }
    }

    /// The token that authorizes the request: the delegated token when there is one, else the
    /// bearer token.
    pub fn effective_token(&self) -> Option<&Token> {
        self.delegated_token.as_ref().or(self.bearer_token.as_ref())
    }

    /// The headers for a call this request makes to another service: everything carried over,
    /// and the trace continued with a [child](TraceParent::child) span (or a new trace).
    pub fn for_downstream(&self) -> Self {
        Self {
            traceparent: Some(
                self.traceparent
                    .map_or_else(TraceParent::new_root, |t| t.child()),
            ),
            ..self.clone()
        }
    }

    /// Reads the headers. A missing or empty correlation id is replaced by a new UUIDv7; an
    /// invalid `traceparent` is dropped with its `tracestate` (as W3C asks: the trace restarts).
    /// `X-Delegated-Authorization` may hold `Bearer <token>` or a bare token.
    ///
    /// # Errors
    ///
    /// [`HeaderError`] when `Authorization` is not `Bearer <token>` or a token is empty.
    pub fn from_header_map(headers: &HeaderMap) -> Result<Self, HeaderError> {
        let traceparent = headers
            .get(name(TRACEPARENT))
            .and_then(|v| v.as_str().trim().parse::<TraceParent>().ok());
        Ok(Self {
            correlation_id: non_empty(headers, CORRELATION_ID).unwrap_or_else(new_correlation_id),
            session_id: non_empty(headers, SESSION_ID),
            workspace_id: non_empty(headers, WORKSPACE_ID),
            workspace_resolution: non_empty(headers, WORKSPACE_RESOLUTION)
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            tenant_id: non_empty(headers, TENANT_ID),
            workflow_step_id: non_empty(headers, WORKFLOW_STEP_ID),
            workflow_instance_id: non_empty(headers, WORKFLOW_INSTANCE_ID),
            bearer_token: bearer(headers, AUTHORIZATION, true)?,
            delegated_token: bearer(headers, DELEGATED_AUTHORIZATION, false)?,
            tracestate: traceparent.and_then(|_| non_empty(headers, TRACESTATE)),
            traceparent,
        })
    }

    /// Writes the headers into a new map.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        self.write_to(&mut headers);
        headers
    }

    /// Writes the headers into a new map, moving their values (no copies).
    pub fn into_header_map(self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        self.write_into(&mut headers);
        headers
    }

    /// Writes the headers into `headers`, replacing values of the same names. Absent fields are
    /// left alone.
    pub fn write_to(&self, headers: &mut HeaderMap) {
        self.clone().write_into(headers);
    }

    /// As [`write_to`](Self::write_to), moving the values into `headers`.
    pub fn write_into(self, headers: &mut HeaderMap) {
        // An empty id (a request that came without one) is never sent: a new one is.
        let id = if self.correlation_id.is_empty() {
            new_correlation_id()
        } else {
            self.correlation_id
        };
        headers.insert(name(CORRELATION_ID), id);
        let optional = [
            (SESSION_ID, self.session_id),
            (WORKSPACE_ID, self.workspace_id),
            (TENANT_ID, self.tenant_id),
            (WORKFLOW_STEP_ID, self.workflow_step_id),
            (WORKFLOW_INSTANCE_ID, self.workflow_instance_id),
            (TRACESTATE, self.tracestate),
        ];
        for (header, value) in optional {
            if let Some(value) = value {
                headers.insert(name(header), value);
            }
        }
        if !self.workspace_resolution.is_empty() {
            headers.insert(
                name(WORKSPACE_RESOLUTION),
                self.workspace_resolution.join(","),
            );
        }
        if let Some(token) = &self.bearer_token {
            headers.insert(name(AUTHORIZATION), format!("{BEARER} {}", token.expose()));
        }
        if let Some(token) = &self.delegated_token {
            headers.insert(
                name(DELEGATED_AUTHORIZATION),
                format!("{BEARER} {}", token.expose()),
            );
        }
        if let Some(tp) = &self.traceparent {
            headers.insert(name(TRACEPARENT), tp.to_string());
        }
    }
}

/// The codes of `X-Error`, sent with an empty body on an error reply.
///
/// ```
/// use ores_actors::nats::ErrorCode;
///
/// # fn main() -> Result<(), ores_actors::nats::HeaderError> {
/// let code: ErrorCode = "token_expired".parse()?;
/// assert_eq!(code, ErrorCode::TokenExpired);
/// assert_eq!(code.as_str(), "token_expired");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// `unauthorized`: no valid token.
    Unauthorized,
    /// `forbidden`: the token lacks a permission.
    Forbidden,
    /// `bad_request`: the request could not be read.
    BadRequest,
    /// `token_expired`: the token has expired.
    TokenExpired,
    /// `max_session_exceeded`: too many sessions.
    MaxSessionExceeded,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 5] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::BadRequest,
        Self::TokenExpired,
        Self::MaxSessionExceeded,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::BadRequest => "bad_request",
            Self::TokenExpired => "token_expired",
            Self::MaxSessionExceeded => "max_session_exceeded",
        }
    }

    /// The code in `headers`' `X-Error`, if any.
    ///
    /// # Errors
    ///
    /// [`HeaderError::UnknownErrorCode`] when `X-Error` holds an unknown code.
    pub fn from_header_map(headers: &HeaderMap) -> Result<Option<Self>, HeaderError> {
        headers
            .get(name(ERROR))
            .map(|v| v.as_str().trim().parse())
            .transpose()
    }

    /// Sets `X-Error` in `headers`.
    pub fn write_to(self, headers: &mut HeaderMap) {
        headers.insert(name(ERROR), self.as_str());
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| HeaderError::UnknownErrorCode {
                value: s.to_owned(),
            })
    }
}
