//! The error types of the NATS conventions: subjects, the wire codec, headers and timestamps.
//!
//! Every message is lowercase, names the offending value in backticks and says what was
//! expected. None of these errors wraps another error as its `source()`: the underlying text (a
//! serde or gzip error) is printed in the message instead, once.

use std::fmt;

use ores_runtime::config::WireFormat;

/// What kind of wire string failed validation; the first words of a [`SubjectError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectKind {
    /// A literal subject ([`Subject`](super::Subject)).
    Subject,
    /// A subscription pattern ([`SubjectPattern`](super::SubjectPattern)).
    Pattern,
    /// A subject prefix ([`SubjectPrefix`](super::SubjectPrefix)).
    Prefix,
    /// A JetStream stream name ([`stream_name`](super::stream_name)).
    StreamName,
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Subject => "subject",
            Self::Pattern => "subject pattern",
            Self::Prefix => "subject prefix",
            Self::StreamName => "stream name",
        })
    }
}

/// Why a subject, pattern, prefix or stream name was refused. Token indices count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectErrorReason {
    /// The whole string is empty.
    Empty,
    /// Token `index` is empty (a leading, trailing or doubled `.`).
    EmptyToken {
        /// 1-based token index.
        index: usize,
    },
    /// Token `index` holds whitespace or a control character.
    Whitespace {
        /// 1-based token index.
        index: usize,
        /// The token.
        token: String,
        /// The offending character.
        ch: char,
    },
    /// A wildcard (`*` or `>`) in a literal subject or prefix.
    Wildcard {
        /// 1-based token index.
        index: usize,
        /// The token.
        token: String,
    },
    /// A wildcard mixed with other characters in one token of a pattern (`a*`).
    PartialWildcard {
        /// 1-based token index.
        index: usize,
        /// The token.
        token: String,
    },
    /// `>` before the last token of a pattern.
    FullWildcardNotLast {
        /// 1-based token index.
        index: usize,
    },
    /// One part given to a builder ([`Subject::service`](super::Subject::service)) holds a `.`
    /// and so would be several tokens.
    NotSingleToken {
        /// 1-based token index the part was meant to fill.
        index: usize,
        /// The part.
        token: String,
    },
    /// A stream name's suffix is empty.
    EmptySuffix,
    /// A stream name holds a character JetStream refuses.
    StreamNameChar {
        /// The offending character.
        ch: char,
    },
}

impl fmt::Display for SubjectErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::EmptyToken { index } => write!(f, "token {index} is empty"),
            Self::Whitespace { index, token, ch } => write!(
                f,
                "token {index} `{}` contains whitespace or a control character ({})",
                token.escape_debug(),
                ch.escape_debug()
            ),
            Self::Wildcard { index, token } => write!(
                f,
                "token {index} `{token}` contains a wildcard; a literal subject may not"
            ),
            Self::PartialWildcard { index, token } => write!(
                f,
                "token {index} `{token}` mixes a wildcard with other characters; `*` and `>` must be whole tokens"
            ),
            Self::FullWildcardNotLast { index } => {
                write!(
                    f,
                    "token {index} is `>`, which is only allowed as the last token"
                )
            }
            Self::NotSingleToken { index, token } => write!(
                f,
                "token {index} `{token}` contains `.`; each part must be a single token"
            ),
            Self::EmptySuffix => f.write_str("its suffix is empty"),
            Self::StreamNameChar { ch } => write!(
                f,
                "it contains `{}`; stream names may not contain whitespace, `.`, `*`, `>`, `/` or `\\`",
                ch.escape_debug()
            ),
        }
    }
}

/// A subject, subject pattern, subject prefix or stream name that failed validation.
///
/// ```
/// use ores_actors::nats::Subject;
///
/// let err = "ores..x".parse::<Subject>().unwrap_err();
/// assert_eq!(err.to_string(), "invalid subject `ores..x`: token 2 is empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{}`: {reason}", input.escape_debug())]
pub struct SubjectError {
    kind: SubjectKind,
    input: String,
    reason: SubjectErrorReason,
}

impl SubjectError {
    pub(crate) fn new(kind: SubjectKind, input: &str, reason: SubjectErrorReason) -> Self {
        Self {
            kind,
            input: input.to_owned(),
            reason,
        }
    }

    /// What was being validated.
    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    /// The refused string.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it was refused.
    pub fn reason(&self) -> &SubjectErrorReason {
        &self.reason
    }
}

/// The name of a wire format as written in messages and configuration.
pub(crate) fn format_name(format: WireFormat) -> &'static str {
    match format {
        WireFormat::Json => "json",
        WireFormat::Msgpack => "msgpack",
    }
}

/// A failure of the wire [`Codec`](super::Codec).
///
/// ```
/// use ores_actors::nats::{Codec, CodecError};
///
/// let codec = Codec::default();
/// let err = codec.decode::<String>(None, b"\xc1").unwrap_err();
/// assert!(matches!(err, CodecError::Decode { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A value could not be serialized.
    #[error("cannot encode a `{type_name}` as {}: {detail}", format_name(*format))]
    Encode {
        /// The Rust type being encoded (`std::any::type_name`).
        type_name: &'static str,
        /// The format it was encoded to.
        format: WireFormat,
        /// The serializer's message.
        detail: String,
    },
    /// A body could not be deserialized into the requested type.
    #[error("cannot decode a {} body of {len} bytes into `{type_name}`: {detail}", format_name(*format))]
    Decode {
        /// The Rust type asked for (`std::any::type_name`).
        type_name: &'static str,
        /// The format the body was read as.
        format: WireFormat,
        /// The body's length after decompression.
        len: usize,
        /// The deserializer's message.
        detail: String,
    },
    /// The `Content-Type` header names a format this codec does not speak.
    #[error(
        "unknown content type `{}` in header `Content-Type`: expected `application/msgpack` or `application/json`",
        value.escape_debug()
    )]
    UnknownContentType {
        /// The header's value.
        value: String,
    },
    /// The `X-Content-Encoding` header names an encoding this codec does not speak.
    #[error(
        "unknown content encoding `{}` in header `X-Content-Encoding`: expected `gzip` or `identity`",
        value.escape_debug()
    )]
    UnknownContentEncoding {
        /// The header's value.
        value: String,
    },
    /// A body marked as gzip is not valid gzip.
    #[error("cannot decompress a gzip body of {len} bytes: {detail}")]
    CorruptGzip {
        /// The compressed length.
        len: usize,
        /// The decompressor's message.
        detail: String,
    },
    /// Compressing a body failed.
    #[error("cannot gzip a body of {len} bytes: {detail}")]
    Compress {
        /// The uncompressed length.
        len: usize,
        /// The compressor's message.
        detail: String,
    },
    /// A body is larger than the decoded-size limit (after decompression, or before compression
    /// when encoding).
    #[error("body exceeds the decoded-size limit of {limit} bytes")]
    DecodedTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// A body is larger than the encoded-size limit (as on the wire).
    #[error("encoded body of {len} bytes exceeds the limit of {limit} bytes")]
    EncodedTooLarge {
        /// The body's length.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
}

/// Why a W3C `traceparent` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceParentErrorReason {
    /// Not four `-`-separated fields of 2, 32, 16 and 2 characters.
    Shape,
    /// A version other than `00`.
    Version,
    /// A field holds something other than lowercase hex digits.
    NotHex {
        /// The field's name.
        field: &'static str,
    },
    /// The trace id or parent id is all zeros.
    AllZero {
        /// The field's name.
        field: &'static str,
    },
}

impl fmt::Display for TraceParentErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape => {
                f.write_str("expected `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`")
            }
            Self::Version => f.write_str("only version `00` is supported"),
            Self::NotHex { field } => write!(f, "the {field} is not lowercase hex"),
            Self::AllZero { field } => write!(f, "the {field} is all zeros"),
        }
    }
}

/// A W3C `traceparent` value that failed to parse.
///
/// ```
/// use ores_actors::nats::TraceParent;
///
/// let err = "00-xyz".parse::<TraceParent>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid traceparent `00-xyz`: expected `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent `{}`: {reason}", input.escape_debug())]
pub struct TraceParentError {
    input: String,
    reason: TraceParentErrorReason,
}

impl TraceParentError {
    pub(crate) fn new(input: &str, reason: TraceParentErrorReason) -> Self {
        Self {
            input: input.to_owned(),
            reason,
        }
    }

    /// The refused value.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it was refused.
    pub fn reason(&self) -> &TraceParentErrorReason {
        &self.reason
    }
}

/// A request header that could not be read into [`RequestHeaders`](super::RequestHeaders).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// `Authorization` does not use the `Bearer` scheme (the token itself is never printed).
    #[error(
        "unsupported authorization scheme `{}` in header `{header}`: expected `Bearer <token>`",
        scheme.escape_debug()
    )]
    AuthorizationScheme {
        /// The header's name.
        header: &'static str,
        /// The scheme found (the first word of the value).
        scheme: String,
    },
    /// `Authorization` holds a bare value without the `Bearer` scheme (never printed: it may be
    /// a token).
    #[error("missing scheme in header `{header}`: expected `Bearer <token>`")]
    MissingScheme {
        /// The header's name.
        header: &'static str,
    },
    /// A token header holds an empty token.
    #[error("empty token in header `{header}`: expected `Bearer <token>`")]
    EmptyToken {
        /// The header's name.
        header: &'static str,
    },
    /// `X-Error` holds an unknown code.
    #[error(
        "unknown error code `{}` in header `X-Error`: expected one of `unauthorized`, `forbidden`, `bad_request`, `token_expired`, `max_session_exceeded`",
        value.escape_debug()
    )]
    UnknownErrorCode {
        /// The header's value.
        value: String,
    },
}

/// A wire timestamp that is not `YYYY-MM-DDTHH:MM:SSZ`.
///
/// ```
/// use ores_actors::nats::OreTimestamp;
///
/// let err = "2024-01-02 03:04:05".parse::<OreTimestamp>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid timestamp `2024-01-02 03:04:05`: expected `YYYY-MM-DDTHH:MM:SSZ` (UTC, ending in `Z`)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp `{}`: {reason}", input.escape_debug())]
pub struct TimestampError {
    input: String,
    reason: String,
}

impl TimestampError {
    pub(crate) fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The refused value (for a `SystemTime` or a second count: its distance from the epoch).
    pub fn input(&self) -> &str {
        &self.input
    }
}
