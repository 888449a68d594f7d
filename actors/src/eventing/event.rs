//! Typed events: [`Event`] gives a serde type its topic (and, optionally, a key and a tenant);
//! [`EntityChangeEvent`] is ORE's ready-made one.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::nats::{OreTimestamp, event_subject};

/// An event: a serde type (stored as JSON) with its topic.
///
/// A topic is a dotted name such as `ores.refdata.currency_changed` (ORE's event subjects);
/// subscribers choose topics by pattern (`ores.refdata.*`, `ores.>`).
///
/// ```
/// use std::borrow::Cow;
/// use ores_actors::eventing::Event;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize)]
/// struct CurrencyRetired { iso_code: String }
///
/// impl Event for CurrencyRetired {
///     fn topic(&self) -> Cow<'_, str> { Cow::Borrowed("ores.refdata.currency_retired") }
///     fn key(&self) -> Option<Cow<'_, str>> { Some(Cow::Borrowed(&self.iso_code)) }
/// }
/// ```
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The topic this event is published on.
    fn topic(&self) -> Cow<'_, str>;

    /// A key that orders related events (e.g. an entity id); stored, not interpreted.
    fn key(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// The tenant the event belongs to, for tenant-filtered subscriptions.
    fn tenant(&self) -> Option<Cow<'_, str>> {
        None
    }
}

/// ORE's `entity_change_event`: what changed (`entity`, e.g. `ores.refdata.currency`), when,
/// which rows (their primary keys) and for which tenant. Its topic is ORE's event subject
/// `ores.<domain>.<entity>_changed`, derived from `entity`.
///
/// ```
/// use ores_actors::eventing::{EntityChangeEvent, Event};
///
/// let e = EntityChangeEvent::new("ores.refdata.currency", ["EUR", "USD"]).tenant("t1");
/// assert_eq!(e.topic(), "ores.refdata.currency_changed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityChangeEvent {
    /// The entity, ORE-style: `ores.<domain>.<entity>`.
    pub entity: String,
    /// When it changed (`YYYY-MM-DDTHH:MM:SSZ`).
    pub timestamp: OreTimestamp,
    /// The primary keys of the rows that changed.
    pub entity_ids: Vec<String>,
    /// The tenant, when the entity is tenant-scoped.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

impl EntityChangeEvent {
    /// A change of `entity` rows `ids`, now.
    pub fn new<I, S>(entity: impl Into<String>, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            entity: entity.into(),
            timestamp: OreTimestamp::now(),
            entity_ids: ids.into_iter().map(Into::into).collect(),
            tenant_id: None,
        }
    }

    /// The same event for `tenant`.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant.into());
        self
    }

    /// ORE's topic for changes of `entity` (`ores.refdata.currency` →
    /// `ores.refdata.currency_changed`).
    pub fn topic_of(entity: &str) -> String {
        let mut parts: Vec<&str> = entity.split('.').collect();
        match parts.len() {
            // `ores.<domain>.<entity>`: ORE's event subject.
            3 if parts[0] == "ores" => event_subject(parts[1], parts[2])
                .map(|s| s.into_string())
                .unwrap_or_else(|_| format!("{entity}_changed")),
            _ => {
                let last = parts.pop().unwrap_or_default();
                let mut out = parts.join(".");
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(last);
                out.push_str("_changed");
                out
            }
        }
    }
}

impl Event for EntityChangeEvent {
    fn topic(&self) -> Cow<'_, str> {
        Cow::Owned(Self::topic_of(&self.entity))
    }

    fn key(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.entity))
    }

    fn tenant(&self) -> Option<Cow<'_, str>> {
        self.tenant_id.as_deref().map(Cow::Borrowed)
    }
}
