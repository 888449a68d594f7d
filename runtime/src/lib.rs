//! # ores-runtime
//!
//! The foundation of ores-rs: OTP-grade supervision on top of [ractor], the runtime builder
//! and its running handle, layered configuration with ORE Studio's environment names,
//! telemetry set-up and ORE's exit codes. It knows nothing of NATS, PostgreSQL or SQLite.

pub mod config;
pub mod exit;
pub mod notify;
pub mod runtime;
pub mod supervisor;
pub mod telemetry;
