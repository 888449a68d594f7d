//! [`OreChannelAdapter`]: for databases that still carry ORE's per-row notify triggers, a
//! supervised actor that LISTENs on ORE's channels (`ores_<component>_<entity_plural>`) and
//! publishes each notification on the bus as an [`EntityChangeEvent`].
//!
//! NOTIFY is not durable, and this adapter cannot make it so: a notification sent while the
//! adapter is down (not started yet, restarting after its connection failed, the service
//! stopped) is lost, as it is for ORE's own listeners; so is one whose publish fails
//! ([`EventError::Unavailable`], logged). Once published, an event is in the log like any
//! other. The durable path is the bus's own trigger
//! ([`EventBus::attach_entity_trigger`]), which writes the event in the changing
//! transaction; run one or the other on a table, not both (each change would arrive twice).
//!
//! # What is read from a payload
//!
//! ORE's triggers send `jsonb_build_object('entity', ..., 'timestamp', ..., 'entity_ids',
//! jsonb_build_array(...), 'tenant_id', ...)`; versions differ, so the adapter is lenient:
//!
//! - `entity` (required): a non-empty string giving a valid topic
//!   (`ores.refdata.currency` → `ores.refdata.currency_changed`);
//! - `timestamp`: `YYYY-MM-DDTHH:MM:SSZ`, `YYYY-MM-DD HH:MM:SS` or either with a fraction of
//!   a second (`.123`), taken as UTC, the fraction dropped; missing or in another shape: the
//!   time the notification was received;
//! - `entity_ids`: an array of strings or numbers (other elements are skipped), or a single
//!   string or number; missing or `null`: no ids;
//! - `tenant_id`: a string or a number; missing or `null`: no tenant;
//! - anything else is ignored.
//!
//! A payload that is not a JSON object, or has no usable `entity`, is logged (warn) and
//! skipped; the adapter goes on.

use ores_runtime::supervisor::{ChildContext, ChildSpec};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::Value;
use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::bus::EventBus;
use super::error::EventError;
use super::event::{EntityChangeEvent, Event};
use super::record::check_topic;
use crate::nats::OreTimestamp;

/// Listens on ORE's NOTIFY channels and publishes what they carry on the bus (see the
/// module documentation of `eventing::ore_adapter` in the source, and `docs/eventing.md`, for
/// what is read and what is lost while it is down).
///
/// ```no_run
/// use ores_actors::eventing::{EventBus, OreChannelAdapter};
/// use ores_runtime::supervisor::Supervisor;
///
/// # async fn demo(bus: EventBus) -> Result<(), Box<dyn std::error::Error>> {
/// let adapter = OreChannelAdapter::new(bus.clone(), ["ores_refdata_currencies", "ores_refdata_countries"])?;
/// let tree = Supervisor::builder("app")
///     .child(bus.child_spec())
///     .child(adapter.child_spec())
///     .spawn()
///     .await?;
/// # let _ = tree; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OreChannelAdapter {
    bus: EventBus,
    channels: Vec<String>,
}

impl OreChannelAdapter {
    /// An adapter publishing on `bus` what ORE's triggers send on `channels` (e.g.
    /// `ores_refdata_currencies`). Nothing runs until [`child_spec`](Self::child_spec) is
    /// started under a supervisor.
    ///
    /// # Errors
    /// [`EventError::Config`] when there is no channel, or a channel name is not a plain
    /// identifier (ASCII letters, digits, `_`, `$`; at most 63 bytes).
    pub fn new<I, S>(bus: EventBus, channels: I) -> Result<Self, EventError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let channels: Vec<String> = channels.into_iter().map(Into::into).collect();
        if channels.is_empty() {
            return Err(EventError::Config(
                "the ORE channel adapter needs at least one channel".into(),
            ));
        }
        for c in &channels {
            let ok = c
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && c.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                && c.len() <= 63;
            if !ok {
                return Err(EventError::Config(format!(
                    "`{c}` is not a usable NOTIFY channel name: use ASCII letters, digits, `_` \
                     and `$`, starting with a letter or `_`, at most 63 bytes"
                )));
            }
        }
        Ok(Self { bus, channels })
    }

    /// The channels listened on.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// The adapter as a supervised child (id `ore-channel-adapter`). It fails when its
    /// listening connection fails; the supervisor restarts it (notifications meanwhile are
    /// lost).
    pub fn child_spec(&self) -> ChildSpec<AdapterMsg> {
        let adapter = self.clone();
        ChildSpec::new("ore-channel-adapter", move |ctx: ChildContext| {
            let adapter = adapter.clone();
            async move { ctx.spawn(AdapterActor, adapter).await }
        })
    }
}

/// The adapter actor's messages (internal: the adapter's task sends them).
#[derive(Debug)]
pub struct AdapterMsg(Inner);

#[derive(Debug)]
enum Inner {
    /// A notification on one of the channels.
    Notification { channel: String, payload: String },
    /// The listening connection failed.
    Failed(EventError),
}

/// The actor behind [`OreChannelAdapter`].
#[derive(Debug, Clone, Copy, Default)]
struct AdapterActor;

/// The actor's state: the adapter and its listening task.
#[derive(Debug)]
struct AdapterState {
    adapter: OreChannelAdapter,
    task: JoinHandle<()>,
}

impl Drop for AdapterState {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Actor for AdapterActor {
    type Msg = AdapterMsg;
    type State = AdapterState;
    type Arguments = OreChannelAdapter;

    async fn pre_start(
        &self,
        myself: ActorRef<AdapterMsg>,
        adapter: OreChannelAdapter,
    ) -> Result<AdapterState, ActorProcessingErr> {
        let mut listener = PgListener::connect_with(adapter.bus.pool()).await?;
        listener
            .listen_all(adapter.channels.iter().map(String::as_str))
            .await?;
        tracing::debug!(target: "ores_actors::eventing", channels = ?adapter.channels, "listening on ORE's channels");
        let task = tokio::spawn(listen_loop(listener, myself));
        Ok(AdapterState { adapter, task })
    }

    async fn handle(
        &self,
        _myself: ActorRef<AdapterMsg>,
        AdapterMsg(msg): AdapterMsg,
        state: &mut AdapterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Inner::Failed(e) => Err(Box::new(e)),
            Inner::Notification { channel, payload } => {
                match parse_ore_payload(&payload, OreTimestamp::now()) {
                    Ok(event) => {
                        if let Err(e) = state.adapter.bus.publish(&event).await {
                            tracing::error!(
                                target: "ores_actors::eventing",
                                %channel, topic = %event.topic(), error = %e,
                                "ORE notification lost: it could not be published"
                            );
                        }
                    }
                    Err(reason) => tracing::warn!(
                        target: "ores_actors::eventing",
                        %channel, %payload, %reason,
                        "ORE notification skipped: its payload is not usable"
                    ),
                }
                Ok(())
            }
        }
    }
}

async fn listen_loop(mut listener: PgListener, myself: ActorRef<AdapterMsg>) {
    loop {
        // `try_recv` reports a lost connection instead of reconnecting quietly: the actor
        // fails and is restarted.
        let failed = match listener.try_recv().await {
            Ok(Some(n)) => {
                let msg = Inner::Notification {
                    channel: n.channel().to_string(),
                    payload: n.payload().to_string(),
                };
                if myself.cast(AdapterMsg(msg)).is_err() {
                    return;
                }
                continue;
            }
            Ok(None) => {
                EventError::Database("the ORE channel listener's connection was lost".into())
            }
            Err(e) => e.into(),
        };
        let _ = myself.cast(AdapterMsg(Inner::Failed(failed)));
        return;
    }
}

/// ORE's notification payload as an [`EntityChangeEvent`] (see the module documentation);
/// `now` stands in for a missing or unreadable timestamp.
fn parse_ore_payload(payload: &str, now: OreTimestamp) -> Result<EntityChangeEvent, String> {
    let value: Value = serde_json::from_str(payload).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let entity = match map.get("entity") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("no `entity` string".into()),
    };
    check_topic(&EntityChangeEvent::topic_of(&entity))
        .map_err(|e| format!("`entity` gives no usable topic: {e}"))?;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let entity_ids = match map.get("entity_ids") {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    };
    let timestamp = map
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_ore_time)
        .unwrap_or(now);
    Ok(EntityChangeEvent {
        entity,
        timestamp,
        entity_ids,
        tenant_id: map.get("tenant_id").and_then(scalar),
    })
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z]`, as UTC, whole seconds.
fn parse_ore_time(text: &str) -> Option<OreTimestamp> {
    let (head, rest) = (text.get(..19)?, text.get(19..)?);
    let rest = rest.strip_suffix('Z').unwrap_or(rest);
    let fraction_ok = rest.is_empty()
        || rest
            .strip_prefix('.')
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !fraction_ok || !matches!(head.as_bytes().get(10), Some(b'T' | b' ')) {
        return None;
    }
    format!("{}T{}Z", head.get(..10)?, head.get(11..)?)
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> OreTimestamp {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ore_payloads_are_read_leniently() {
        let now = ts("2000-01-01T00:00:00Z");
        let e = parse_ore_payload(
            r#"{"entity":"ores.refdata.currency","timestamp":"2025-03-04 05:06:07","entity_ids":["EUR",7,null],"tenant_id":"t1","extra":1}"#,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.entity, "ores.refdata.currency");
        assert_eq!(e.timestamp, ts("2025-03-04T05:06:07Z"));
        assert_eq!(e.entity_ids, ["EUR", "7"]);
        assert_eq!(e.tenant_id.as_deref(), Some("t1"));
        let e = parse_ore_payload(
            r#"{"entity":"ores.risk.currency","timestamp":"2025-03-04T05:06:07.123Z"}"#,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.timestamp, ts("2025-03-04T05:06:07Z"));
        assert!(e.entity_ids.is_empty());
        assert_eq!(e.tenant_id, None);
        let e = parse_ore_payload(
            r#"{"entity":"ores.a.b","timestamp":"yesterday","entity_ids":"X","tenant_id":3}"#,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.timestamp, now);
        assert_eq!(e.entity_ids, ["X"]);
        assert_eq!(e.tenant_id.as_deref(), Some("3"));
        for bad in [
            "",
            "nope",
            "[1]",
            "{}",
            r#"{"entity":""}"#,
            r#"{"entity":5}"#,
            r#"{"entity":"a b"}"#,
        ] {
            assert!(parse_ore_payload(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn ore_times() {
        assert_eq!(
            parse_ore_time("2025-03-04T05:06:07Z"),
            Some(ts("2025-03-04T05:06:07Z"))
        );
        assert_eq!(
            parse_ore_time("2025-03-04 05:06:07.5"),
            Some(ts("2025-03-04T05:06:07Z"))
        );
        for bad in [
            "2025-03-04X05:06:07",
            "2025-03-04 05:06:07+01",
            "2025-03-04 05:06:07.",
            "2025",
        ] {
            assert_eq!(parse_ore_time(bad), None, "{bad}");
        }
    }
}
