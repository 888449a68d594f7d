//! Runnable examples of ores-rs. Each binary under `src/bin/` says in its header how to run it
//! and what it prints; the library holds what tests share with them:
//!
//! - [`refdata`]: a currency service backed by PostgreSQL (run by `refdata_demo`).

#![deny(missing_docs)]

pub mod refdata;
