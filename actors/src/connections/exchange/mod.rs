//! Export and import: the whole store as a [`Document`], the JSON exchange format, and an
//! import that is previewed first and applied in one transaction with a choice per clash.
//!
//! - [`export_document`] reads the store into a [`Document`] (passwords opened only with the
//!   vault key); [`to_json`] writes it as pretty JSON, leaving passwords out unless an export
//!   passphrase is given, in which case they are sealed with a fresh export key wrapped by
//!   that passphrase (Argon2id, XChaCha20-Poly1305; each password bound to its connection's
//!   name).
//! - [`from_json`] reads such a file back (typed errors for what is not JSON, not an ores
//!   bookmark export or of another version; a [`Document`] whose references all hold);
//!   [`from_json_without_secrets`] reads it leaving the sealed passwords behind.
//! - [`preview_import`] tells, record by record, what is new, what is already there
//!   unchanged, and what clashes with an existing record (and in which fields);
//!   [`apply_import`] then writes the document, all or nothing, following an
//!   [`ImportChoices`] ([`ClashChoice::Skip`], [`ClashChoice::Replace`] or
//!   [`ClashChoice::KeepBoth`], per record or by default).
//!
//! Any [`Document`] can be previewed and applied, not only one read from JSON (the ORE Studio
//! importer produces one too): it is checked and normalized by [`normalize`] first.
//!
//! # The JSON format (version 1)
//!
//! ```json
//! {
//!   "format": "ores-bookmarks",
//!   "version": 1,
//!   "exported_at": "2025-01-31T12:00:00Z",
//!   "folders": [{ "path": ["prod"], "description": "" },
//!               { "path": ["prod", "emea"], "description": "Europe" }],
//!   "tags": ["critical"],
//!   "environments": [{ "name": "prod-emea", "folder": ["prod", "emea"], "host": "nats.example",
//!                      "port": 4222, "http_port": 8080, "subject_prefix": "",
//!                      "description": "", "tags": ["critical"] }],
//!   "connections": [{ "name": "alice@prod", "folder": ["prod"], "environment": "prod-emea",
//!                     "host": null, "port": null, "username": "alice", "description": "",
//!                     "tags": [], "password_sealed": "<base64>" }],
//!   "secrets": { "cipher": "xchacha20poly1305",
//!                "kdf": { "algorithm": "argon2id", "memory_kib": 19456, "iterations": 2,
//!                         "parallelism": 1 },
//!                "salt": "<base64>", "wrapped_key": "<base64>" }
//! }
//! ```
//!
//! `secrets` is `null` and no connection has `password_sealed` when the export carries no
//! passwords. With secrets, `wrapped_key` is a random export key sealed by a key derived from
//! the passphrase (the KDF parameters and salt are bound to it), and each `password_sealed`
//! is nonce ‖ ciphertext ‖ tag under the export key, for record
//! `export-connection:<connection name>` and field `password`: a sealed password moved onto
//! another connection does not open. Bytes are standard base64 with padding.
//!
//! ```no_run
//! use ores_actors::connections::exchange::{self, ClashChoice, ImportChoices};
//! use ores_actors::connections::store::Store;
//! use ores_actors::connections::vault::{KdfParams, Secret};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut from = Store::open("/tmp/a.db")?;
//! let json = exchange::to_json(&exchange::export_document(&from, None)?, None)?;
//!
//! let mut into = Store::open("/tmp/b.db")?;
//! let doc = exchange::from_json(&json, None)?;
//! let preview = exchange::preview_import(&into, &doc)?;
//! println!("{} new, {} clashes", preview.counts().new, preview.counts().clashes);
//! let choices = ImportChoices::new(ClashChoice::KeepBoth);
//! let report = exchange::apply_import(&mut into, None, &doc, &choices)?;
//! println!("{} created, {} renamed", report.created, report.renamed.len());
//! # let _ = &mut from;
//! # Ok(()) }
//! ```
//!
//! [`Document`]: super::document::Document
//! [`normalize`]: fn@normalize

mod apply;
mod choices;
mod error;
mod existing;
mod export;
mod handle;
mod json;
mod normalize;
mod preview;
mod record;
mod report;

pub use apply::apply_import;
pub use choices::{ClashChoice, ImportChoices};
pub use error::ExchangeError;
pub use export::export_document;
pub use json::{FORMAT, VERSION, export_record, from_json, from_json_without_secrets, to_json};
pub use normalize::normalize;
pub use preview::{
    ImportPreview, PreviewCounts, PreviewItem, RecordStatus, preview_import,
    preview_import_with_key,
};
pub use record::{RecordKind, folder_name};
pub use report::{ImportAction, ImportReport, ImportedRecord, Renamed};
