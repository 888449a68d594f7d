//! NATS for ores-rs: the supervised connection actor and ORE's conventions, typed and
//! validated.
//!
//! - [`Nats`] and [`NatsConnection`]: the supervised connection (configured by [`NatsConfig`],
//!   checked up front), its [`ConnectionEvent`] stream, fail-fast requests, and
//!   [`nats_subtree`], the rest-for-one layout that restarts services after their connection
//!   (guide: `docs/nats.md`).
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

mod client;
mod client_error;
mod config;
mod connection;
mod state;
mod subtree;

pub mod codec;
pub mod error;
pub mod headers;
pub mod jetstream;
pub mod subject;
pub mod timestamp;

pub use codec::{Codec, Encoded};
pub use error::{CodecError, HeaderError, SubjectError, TimestampError, TraceParentError};
pub use headers::{ErrorCode, RequestHeaders, Token, TraceParent};
pub use subject::{Subject, SubjectPattern, SubjectPrefix, event_subject, stream_name};
pub use timestamp::{OreTimestamp, ore_timestamp};

pub use client::{Delivery, Gather, Reply, RequestOptions, Subscription};
pub use client_error::NatsError;
pub use config::{Credentials, NatsConfig, NatsConfigError, Secret, TlsFiles};
pub use connection::{ConnectionState, Nats, NatsConnection, NatsMsg};
pub use state::{ConnectionEvent, ConnectionEvents, LinkStatus};
pub use subtree::nats_subtree;
