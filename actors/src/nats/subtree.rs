//! The NATS subtree: a rest-for-one supervisor whose first child is the connection actor, so
//! that the services added after it restart (and re-subscribe) whenever it does.

use ores_runtime::supervisor::{Strategy, Supervisor, SupervisorBuilder};

use super::connection::Nats;

/// A supervisor (named `name`, rest-for-one) with the NATS connection as its first child. Add
/// the services that use `nats` with `.child(..)`; nest it with `.into_child_spec()` or spawn
/// it.
///
/// ```no_run
/// use ores_actors::nats::{Nats, NatsConfig, nats_subtree};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let nats = Nats::new(NatsConfig::new("nats://127.0.0.1:4222", "ores.dev.local1"))?;
/// let tree = nats_subtree("nats", &nats).spawn().await?;
/// # let _ = tree; Ok(()) }
/// ```
pub fn nats_subtree(name: &str, nats: &Nats) -> SupervisorBuilder {
    Supervisor::builder(name)
        .strategy(Strategy::RestForOne)
        .child(nats.child_spec())
}
