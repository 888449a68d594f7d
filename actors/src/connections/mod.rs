//! The encrypted SQLite connection-bookmark store: folders, tags, environments and connections
//! (ORE Studio's `ores.connections` model), with passwords kept as opaque sealed blobs.

pub mod model;
pub mod schema;
pub mod store;
