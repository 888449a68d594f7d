//! # ores-runtime
//!
//! The foundation of ores-rs: OTP-grade supervision on top of [ractor], the runtime builder
//! and its running handle, layered configuration with ORE Studio's environment names,
//! telemetry set-up, systemd readiness and ORE's exit codes. It knows nothing of NATS,
//! PostgreSQL or SQLite; the infrastructure actors in `ores-actors` stand on it.
//!
//! ```
//! use std::time::Duration;
//! use ores_runtime::runtime::Runtime;
//! use ores_runtime::supervisor::{Backoff, ChildSpec, Strategy};
//! use ractor::{Actor, ActorProcessingErr, ActorRef};
//!
//! #[derive(Clone)]
//! struct Greeter;
//! impl Actor for Greeter {
//!     type Msg = String;
//!     type State = ();
//!     type Arguments = ();
//!     async fn pre_start(&self, _: ActorRef<String>, _: ()) -> Result<(), ActorProcessingErr> {
//!         Ok(())
//!     }
//!     async fn handle(&self, _: ActorRef<String>, name: String, _: &mut ()) -> Result<(), ActorProcessingErr> {
//!         println!("hello, {name}");
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let greeter = ChildSpec::actor("greeter", Greeter, ());
//! let handle = greeter.handle(); // follows the child across restarts
//! let runtime = Runtime::builder("ores.example")
//!     .strategy(Strategy::OneForOne)
//!     .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))?.jitter(0.2)?)
//!     .child(greeter)
//!     .start()
//!     .await?;
//! handle.send("ores".to_string()).await?;
//! runtime.shutdown().await?; // or: runtime.run_until_signal().await
//! # Ok(()) }
//! ```
//!
//! ## Modules
//! - [`supervisor`]: [`Supervisor`], [`ChildSpec`],
//!   strategies, restart types, intensity, backoff, stable [`ChildHandle`]s
//!   and the [`SupervisorEvent`] stream (guide: `docs/supervision.md`);
//! - [`runtime`]: [`Runtime::builder`](runtime::Runtime::builder), ordered shutdown,
//!   `run_until_signal`, systemd `READY=1`;
//! - [`config`]: defaults < TOML file < environment < explicit values, ORE's `ORES_*` names
//!   (guide: `docs/configuration.md`);
//! - [`telemetry`]: one call sets up `tracing-subscriber` (`RUST_LOG`, pretty, compact or JSON);
//! - [`exit`]: ORE's process exit codes;
//! - [`notify`]: the systemd notification protocol.

#![deny(missing_docs)]

pub mod config;
pub mod exit;
pub mod notify;
pub mod panic;
pub mod runtime;
pub mod supervisor;
pub mod telemetry;

pub use config::{ConfigError, ConfigLoader, OresConfig};
pub use exit::ExitCode;
pub use runtime::{Runtime, RuntimeHandle};
pub use supervisor::{ChildHandle, ChildSpec, Supervisor, SupervisorEvent};
