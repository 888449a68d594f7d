//! Fixtures shared by the event-bus test files (`mod common;` in each).
#![allow(dead_code)] // each test file uses what it needs

use std::borrow::Cow;

use ores_actors::eventing::{Event, EventBus, EventBusConfig};
use ores_testkit::TestKit;
use serde::{Deserialize, Serialize};

/// The test event: a number, on topic `ores.test.tick`, for a tenant or for all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tick {
    pub(crate) n: u32,
    pub(crate) tenant: Option<String>,
}

impl Event for Tick {
    fn topic(&self) -> Cow<'_, str> {
        Cow::Borrowed("ores.test.tick")
    }
    fn tenant(&self) -> Option<Cow<'_, str>> {
        self.tenant.as_deref().map(Cow::Borrowed)
    }
}

/// Tick `n`, for no tenant.
pub(crate) fn tick(n: u32) -> Tick {
    Tick { n, tenant: None }
}

/// An event bus on the test's schema, started under the test's tree.
pub(crate) async fn bus(kit: &TestKit) -> EventBus {
    let bus = EventBus::new(
        kit.db().clone(),
        EventBusConfig::new(kit.schema().as_str()).unwrap(),
    )
    .unwrap();
    kit.spawn(bus.child_spec()).await.unwrap();
    bus
}
