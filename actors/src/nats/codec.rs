//! The wire codec: msgpack or JSON of the same structs, gzip for large bodies, marked with
//! headers so that a receiver can decode either.
//!
//! # Headers
//!
//! | header | values | meaning |
//! | --- | --- | --- |
//! | `Content-Type` | `application/msgpack`, `application/json` | the body's format; `application/x-msgpack`, `application/vnd.msgpack` and parameters (`; charset=utf-8`) are accepted on decode |
//! | `X-Content-Encoding` | `gzip` (`identity` accepted) | the body is gzipped |
//!
//! ORE sends no `Content-Type`; a body without one is decoded with the codec's configured
//! format, so both sides must then agree, as in ORE.
//!
//! # Limits
//!
//! A body larger than [`Codec::max_encoded_size`] on the wire, or than
//! [`Codec::max_decoded_size`] once decompressed, is refused with a typed error; decompression
//! stops one byte past the limit, so a gzip bomb costs no more memory than the limit.

use std::any::type_name;
use std::io::{Read, Write};

use async_nats::HeaderMap;
use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use ores_runtime::config::WireFormat;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::CodecError;
use super::headers::{CONTENT_ENCODING, CONTENT_TYPE, name};

/// `Content-Type` value of a msgpack body.
pub const MSGPACK_CONTENT_TYPE: &str = "application/msgpack";
/// `Content-Type` value of a JSON body.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// `X-Content-Encoding` value of a gzipped body.
pub const GZIP_ENCODING: &str = "gzip";

/// The `Content-Type` value of `format`.
pub fn content_type(format: WireFormat) -> &'static str {
    match format {
        WireFormat::Json => JSON_CONTENT_TYPE,
        WireFormat::Msgpack => MSGPACK_CONTENT_TYPE,
    }
}

/// The format named by a `Content-Type` value (case-insensitive, parameters ignored), or `None`
/// when it names neither msgpack nor JSON.
pub fn parse_content_type(value: &str) -> Option<WireFormat> {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    if is(MSGPACK_CONTENT_TYPE) || is("application/x-msgpack") || is("application/vnd.msgpack") {
        Some(WireFormat::Msgpack)
    } else if is(JSON_CONTENT_TYPE) {
        Some(WireFormat::Json)
    } else {
        None
    }
}

/// An encoded body and how it is marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The bytes to send.
    pub body: Bytes,
    /// The format of the (decompressed) body.
    pub format: WireFormat,
    /// Whether `body` is gzipped.
    pub compressed: bool,
}

impl Encoded {
    /// The headers marking the body: `Content-Type`, and `X-Content-Encoding: gzip` when
    /// compressed.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        self.write_headers(&mut headers);
        headers
    }

    /// Sets the marking headers in `headers` (replacing any value they had). `HeaderMap` cannot
    /// remove a header, so do not pass a map that already says `X-Content-Encoding: gzip` for
    /// an uncompressed body: start from a fresh map (e.g. `RequestHeaders::to_header_map`).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(name(CONTENT_TYPE), content_type(self.format));
        if self.compressed {
            headers.insert(name(CONTENT_ENCODING), GZIP_ENCODING);
        }
    }

    /// The body and its headers, ready for `publish_with_headers`.
    pub fn into_parts(self) -> (HeaderMap, Bytes) {
        (self.headers(), self.body)
    }
}

/// Encodes and decodes message bodies.
///
/// ```
/// use ores_actors::nats::Codec;
/// use ores_runtime::config::WireFormat;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Currency {
///     iso_code: String,
///     name: String,
/// }
///
/// # fn main() -> Result<(), ores_actors::nats::CodecError> {
/// let usd = Currency { iso_code: "USD".into(), name: "US dollar".into() };
/// let sender = Codec::new(WireFormat::Json);
/// let (headers, body) = sender.encode(&usd)?.into_parts();
///
/// // A receiver configured for msgpack still decodes it: the body is marked.
/// let receiver = Codec::new(WireFormat::Msgpack);
/// let got: Currency = receiver.decode(Some(&headers), &body)?;
/// assert_eq!(got, usd);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    format: WireFormat,
    compress_threshold: usize,
    max_encoded_size: usize,
    max_decoded_size: usize,
}

impl Default for Codec {
    /// [`WireFormat::Msgpack`] with the default limits.
    fn default() -> Self {
        Self::new(WireFormat::default())
    }
}

impl From<WireFormat> for Codec {
    fn from(format: WireFormat) -> Self {
        Self::new(format)
    }
}

impl Codec {
    /// Bodies of at least this many bytes are gzipped when that shrinks them (ORE's 4096).
    pub const DEFAULT_COMPRESS_THRESHOLD: usize = 4096;
    /// Default limit of a body on the wire: 64 MiB.
    pub const DEFAULT_MAX_ENCODED_SIZE: usize = 64 * 1024 * 1024;
    /// Default limit of a decompressed body: 64 MiB.
    pub const DEFAULT_MAX_DECODED_SIZE: usize = 64 * 1024 * 1024;

    /// A codec that encodes as `format` and decodes unmarked bodies as `format`.
    pub fn new(format: WireFormat) -> Self {
        Self {
            format,
            compress_threshold: Self::DEFAULT_COMPRESS_THRESHOLD,
            max_encoded_size: Self::DEFAULT_MAX_ENCODED_SIZE,
            max_decoded_size: Self::DEFAULT_MAX_DECODED_SIZE,
        }
    }

    /// Gzips bodies of at least `bytes` bytes (when that shrinks them); `usize::MAX` never does.
    pub fn with_compress_threshold(mut self, bytes: usize) -> Self {
        self.compress_threshold = bytes;
        self
    }

    /// Refuses bodies larger than `bytes` on the wire.
    pub fn with_max_encoded_size(mut self, bytes: usize) -> Self {
        self.max_encoded_size = bytes;
        self
    }

    /// Refuses bodies larger than `bytes` once decompressed.
    pub fn with_max_decoded_size(mut self, bytes: usize) -> Self {
        self.max_decoded_size = bytes;
        self
    }

    /// The same codec (same limits) encoding in `format`.
    #[must_use]
    pub fn with_format(mut self, format: WireFormat) -> Self {
        self.format = format;
        self
    }

    /// The format used to encode, and to decode unmarked bodies.
    pub fn format(&self) -> WireFormat {
        self.format
    }

    /// The compression threshold in bytes.
    pub fn compress_threshold(&self) -> usize {
        self.compress_threshold
    }

    /// The limit of a body on the wire, in bytes.
    pub fn max_encoded_size(&self) -> usize {
        self.max_encoded_size
    }

    /// The limit of a decompressed body, in bytes.
    pub fn max_decoded_size(&self) -> usize {
        self.max_decoded_size
    }

    /// Serializes `value` in the codec's format (msgpack structs as maps, like ORE), gzipped
    /// when it is at least the threshold and gzip shrinks it.
    ///
    /// # Errors
    ///
    /// [`CodecError::Encode`] when serialization fails, [`CodecError::DecodedTooLarge`] or
    /// [`CodecError::EncodedTooLarge`] when the body is over a limit.
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Encoded, CodecError> {
        // Room for a typical body up front: growing from empty reallocates five or six times.
        let mut raw = Vec::with_capacity(256);
        match self.format {
            WireFormat::Msgpack => {
                rmp_serde::encode::write_named(&mut raw, value).map_err(|e| e.to_string())
            }
            WireFormat::Json => serde_json::to_writer(&mut raw, value).map_err(|e| e.to_string()),
        }
        .map_err(|detail| CodecError::Encode {
            type_name: type_name::<T>(),
            format: self.format,
            detail,
        })?;
        if raw.len() > self.max_decoded_size {
            return Err(CodecError::DecodedTooLarge {
                limit: self.max_decoded_size,
            });
        }
        let (body, compressed) = if raw.len() >= self.compress_threshold {
            let small = gzip(&raw)?;
            if small.len() < raw.len() {
                (small, true)
            } else {
                (raw, false)
            }
        } else {
            (raw, false)
        };
        if body.len() > self.max_encoded_size {
            return Err(CodecError::EncodedTooLarge {
                len: body.len(),
                limit: self.max_encoded_size,
            });
        }
        Ok(Encoded {
            body: Bytes::from(body),
            format: self.format,
            compressed,
        })
    }

    /// Decodes `body` into a `T`: decompressed when `X-Content-Encoding` says `gzip`, read in
    /// the format `Content-Type` names, or in the codec's format when there is no such header.
    ///
    /// # Errors
    ///
    /// [`CodecError::UnknownContentType`], [`CodecError::UnknownContentEncoding`],
    /// [`CodecError::CorruptGzip`], [`CodecError::EncodedTooLarge`],
    /// [`CodecError::DecodedTooLarge`] and [`CodecError::Decode`]: never a panic.
    pub fn decode<T: DeserializeOwned>(
        &self,
        headers: Option<&HeaderMap>,
        body: &[u8],
    ) -> Result<T, CodecError> {
        let format = match headers.and_then(|h| h.get(name(CONTENT_TYPE))) {
            Some(value) => parse_content_type(value.as_str()).ok_or_else(|| {
                CodecError::UnknownContentType {
                    value: value.as_str().to_owned(),
                }
            })?,
            None => self.format,
        };
        let gzipped = match headers.and_then(|h| h.get(name(CONTENT_ENCODING))) {
            Some(value) => {
                let v = value.as_str().trim();
                if v.eq_ignore_ascii_case(GZIP_ENCODING) {
                    true
                } else if v.is_empty() || v.eq_ignore_ascii_case("identity") {
                    false
                } else {
                    return Err(CodecError::UnknownContentEncoding {
                        value: value.as_str().to_owned(),
                    });
                }
            }
            None => false,
        };
        if body.len() > self.max_encoded_size {
            return Err(CodecError::EncodedTooLarge {
                len: body.len(),
                limit: self.max_encoded_size,
            });
        }
        let inflated;
        let body = if gzipped {
            inflated = gunzip(body, self.max_decoded_size)?;
            &inflated[..]
        } else if body.len() > self.max_decoded_size {
            return Err(CodecError::DecodedTooLarge {
                limit: self.max_decoded_size,
            });
        } else {
            body
        };
        match format {
            WireFormat::Msgpack => rmp_serde::from_slice(body).map_err(|e| e.to_string()),
            WireFormat::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        }
        .map_err(|detail| CodecError::Decode {
            type_name: type_name::<T>(),
            format,
            len: body.len(),
            detail,
        })
    }
}

/// Gzips `raw`.
fn gzip(raw: &[u8]) -> Result<Vec<u8>, CodecError> {
    let failed = |e: std::io::Error| CodecError::Compress {
        len: raw.len(),
        detail: e.to_string(),
    };
    let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::default());
    encoder.write_all(raw).map_err(failed)?;
    encoder.finish().map_err(failed)
}

/// Gunzips `body`, reading at most `limit + 1` bytes so that a bomb is caught without
/// allocating more than the limit.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| CodecError::CorruptGzip {
            len: body.len(),
            detail: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(CodecError::DecodedTooLarge { limit });
    }
    Ok(out)
}
