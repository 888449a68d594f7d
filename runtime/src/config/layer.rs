//! An in-memory figment provider: one already-read layer (defaults, a TOML file, an explicit
//! value) with metadata naming its source.

use std::path::Path;

use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider, Source};

/// Metadata name of the defaults layer.
pub(crate) const DEFAULT_NAME: &str = "default";
/// Metadata name of a TOML file layer; the path is the metadata's source.
pub(crate) const FILE_NAME: &str = "TOML file";
/// Metadata name of an explicit value.
pub(crate) const EXPLICIT_NAME: &str = "explicit value";

/// A layer whose data is already in memory.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Layer {
    /// The defaults layer.
    pub(crate) fn defaults(dict: Dict) -> Self {
        Self::new(Metadata::named(DEFAULT_NAME), dict)
    }

    /// A layer read from the TOML file at `path`.
    pub(crate) fn file(path: &Path, dict: Dict) -> Self {
        Self::new(
            Metadata::named(FILE_NAME).source(Source::File(path.to_path_buf())),
            dict,
        )
    }

    /// An explicit value.
    pub(crate) fn explicit(dict: Dict) -> Self {
        Self::new(Metadata::named(EXPLICIT_NAME), dict)
    }

    fn new(metadata: Metadata, dict: Dict) -> Self {
        // Keys are shown as dotted paths, without figment's profile prefix.
        let metadata = metadata.interpolater(|_: &Profile, keys: &[&str]| keys.join("."));
        Self { metadata, dict }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}
