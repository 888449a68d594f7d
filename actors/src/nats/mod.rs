//! NATS for ores-rs: ORE's conventions, typed and validated.
//!
//! - [`Subject`], [`SubjectPattern`], [`SubjectPrefix`], [`stream_name`], [`event_subject`]:
//!   validated wire strings; relative subjects `{domain}.v1.{entity}.{verb}` are sent under the
//!   prefix `ores.{tier}.{instance}`, `_INBOX` replies never are.
//! - [`Codec`]: msgpack (ORE's default) or JSON bodies, marked with `Content-Type`, gzipped
//!   above 4 KiB when that shrinks them, with limits on encoded and decompressed sizes.
//! - [`RequestHeaders`], [`TraceParent`], [`ErrorCode`] and the header-name constants in
//!   [`headers`].
//! - [`OreTimestamp`] and [`ore_timestamp`]: wire timestamps `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! ```
//! use ores_actors::nats::{Codec, RequestHeaders, Subject, SubjectPrefix};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let prefix = SubjectPrefix::new("ores.dev.local1")?;
//! let subject = prefix.apply(&Subject::service("refdata", "v1", "currencies", "list")?);
//! let encoded = Codec::default().encode(&vec!["USD", "EUR"])?;
//! let mut headers = RequestHeaders::new().to_header_map();
//! encoded.write_headers(&mut headers);
//! assert_eq!(subject.as_str(), "ores.dev.local1.refdata.v1.currencies.list");
//! # let _ = (headers, encoded.body);
//! # Ok(())
//! # }
//! ```

pub mod codec;
pub mod error;
pub mod headers;
pub mod subject;
pub mod timestamp;

pub use codec::{Codec, Encoded};
pub use error::{CodecError, HeaderError, SubjectError, TimestampError, TraceParentError};
pub use headers::{ErrorCode, RequestHeaders, Token, TraceParent};
pub use subject::{Subject, SubjectPattern, SubjectPrefix, event_subject, stream_name};
pub use timestamp::{OreTimestamp, ore_timestamp};
