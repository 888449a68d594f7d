//! Runnable examples of ores-rs. Each binary under `src/bin/` says in its header how to run it
//! and what it prints.

#![deny(missing_docs)]
