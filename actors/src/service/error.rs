//! The errors of a service: [`ServiceError`], what an endpoint answers when it fails, and
//! [`ServiceSetupError`], what a service definition that cannot run is refused with.

use std::time::Duration;

use async_nats::HeaderMap;

use crate::nats::ErrorCode;
use crate::nats::error::CodecError;
use crate::nats::headers::{ERROR, SERVICE_ERROR, SERVICE_ERROR_CODE, name};

/// An endpoint's failure, sent back to the caller as an error reply: an empty body with
/// `Nats-Service-Error` (the message) and `Nats-Service-Error-Code` (the code, HTTP-like), plus
/// ORE's `X-Error` when the error is one of ORE's codes.
///
/// Handlers return it (or any error that converts into it) from their `Result`.
///
/// ```
/// use ores_actors::service::ServiceError;
///
/// let err = ServiceError::not_found("no currency `XYZ`");
/// assert_eq!(err.code(), 404);
/// assert_eq!(err.to_string(), "404: no currency `XYZ`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    code: u16,
    message: String,
    ore: Option<ErrorCode>,
}

impl ServiceError {
    /// An error with `code` (HTTP-like: 4xx the caller's fault, 5xx the service's) and a
    /// message the caller can act on.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            ore: None,
        }
    }

    /// 400, ORE `bad_request`: the request could not be read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message).with_ore(ErrorCode::BadRequest)
    }

    /// 401, ORE `unauthorized`: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message).with_ore(ErrorCode::Unauthorized)
    }

    /// 401, ORE `token_expired`: the token has expired.
    pub fn token_expired(message: impl Into<String>) -> Self {
        Self::new(401, message).with_ore(ErrorCode::TokenExpired)
    }

    /// 403, ORE `forbidden`: the token lacks the permission.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message).with_ore(ErrorCode::Forbidden)
    }

    /// 404: what was asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// 413: the request body is larger than the endpoint accepts.
    pub fn payload_too_large(size: usize, max: usize) -> Self {
        Self::new(
            413,
            format!("the request body is {size} bytes, over this endpoint's limit of {max}"),
        )
    }

    /// 500: the handler failed (or panicked).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// 503: the endpoint has as many requests in flight as it allows; try again later.
    pub fn overloaded(limit: usize) -> Self {
        Self::new(
            503,
            format!("overloaded: {limit} requests already in flight on this endpoint, retry later"),
        )
    }

    /// 504: the request's deadline passed before the handler finished; it was cancelled.
    pub fn deadline_exceeded(deadline: Duration) -> Self {
        Self::new(
            504,
            format!("deadline of {deadline:?} exceeded; the handler was cancelled"),
        )
    }

    /// Marks the error with one of ORE's codes, sent as `X-Error`.
    #[must_use]
    pub fn with_ore(mut self, code: ErrorCode) -> Self {
        self.ore = Some(code);
        self
    }

    /// The numeric code (`Nats-Service-Error-Code`).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The message (`Nats-Service-Error`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// ORE's code (`X-Error`), if any.
    pub fn ore_code(&self) -> Option<ErrorCode> {
        self.ore
    }

    /// Writes the error headers into `headers`. A message on several lines is sent on one
    /// (a header value cannot hold a line break).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(name(SERVICE_ERROR), self.message.replace(['\r', '\n'], " "));
        headers.insert(name(SERVICE_ERROR_CODE), self.code.to_string());
        if let Some(ore) = self.ore {
            headers.insert(name(ERROR), ore.as_str());
        }
    }

    /// The headers of the error reply.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        self.write_headers(&mut headers);
        headers
    }
}

impl From<CodecError> for ServiceError {
    /// A body that cannot be read is the caller's fault: 400, with what failed to decode.
    fn from(err: CodecError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<ErrorCode> for ServiceError {
    fn from(code: ErrorCode) -> Self {
        let status = match code {
            ErrorCode::Unauthorized | ErrorCode::TokenExpired => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::BadRequest => 400,
            ErrorCode::MaxSessionExceeded => 429,
        };
        Self::new(status, code.as_str()).with_ore(code)
    }
}

/// A service definition that cannot run: refused when the service is built, before anything is
/// subscribed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceSetupError {
    /// The service name has no character the protocol accepts, or is empty.
    #[error(
        "invalid service name `{name}`: {reason} (the protocol name allows only A-Z a-z 0-9 - _; \
         dots in ORE names become `-`)"
    )]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The version is not SemVer.
    #[error("invalid service version `{version}`: {reason} (expected SemVer, e.g. `1.2.3`)")]
    InvalidVersion {
        /// The version given.
        version: String,
        /// What the SemVer parser said.
        reason: String,
    },
    /// An endpoint's name, subject, group or queue group is not valid.
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// Two endpoints have the same name or the same subject.
    #[error("duplicate endpoint {what} `{value}`: names and subjects must be unique in a service")]
    DuplicateEndpoint {
        /// `name` or `subject`.
        what: &'static str,
        /// The value used twice.
        value: String,
    },
    /// A limit is zero or otherwise unusable.
    #[error("invalid service setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}
