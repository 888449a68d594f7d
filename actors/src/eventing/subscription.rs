//! In-process subscribers: who gets which event, and [`Subscription`], the handle whose drop
//! unsubscribes.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::nats::SubjectPattern;

use super::record::StoredEvent;

/// Delivers one event; returns `false` once the subscriber is gone (it is then removed).
pub(crate) type Sink = Box<dyn Fn(&StoredEvent) -> bool + Send + Sync>;

struct Entry {
    id: u64,
    pattern: SubjectPattern,
    tenant: Option<String>,
    sink: Sink,
}

/// The subscribers of one bus.
#[derive(Default)]
pub(crate) struct Registry {
    next: AtomicU64,
    entries: Mutex<Vec<Entry>>,
    /// Signalled when a subscriber is added (an idle reader starts reading at once).
    pub(crate) added: tokio::sync::Notify,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("subscribers", &self.len())
            .finish()
    }
}

impl Registry {
    pub(crate) fn add(
        self: &Arc<Self>,
        pattern: SubjectPattern,
        tenant: Option<String>,
        sink: Sink,
    ) -> SubscriptionGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Entry {
            id,
            pattern,
            tenant,
            sink,
        });
        self.added.notify_one();
        SubscriptionGuard {
            id,
            registry: Arc::downgrade(self),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn remove(&self, id: u64) {
        self.lock().retain(|e| e.id != id);
    }

    /// Hands `event` to every matching subscriber, dropping those that are gone.
    pub(crate) fn dispatch(&self, event: &StoredEvent) {
        let mut entries = self.lock();
        entries.retain(|e| {
            let wanted = e.pattern.matches(&event.topic)
                && e.tenant
                    .as_deref()
                    .is_none_or(|t| event.tenant.as_deref() == Some(t));
            !wanted || (e.sink)(event)
        });
    }
}

/// Unsubscribes when dropped.
#[derive(Debug)]
pub(crate) struct SubscriptionGuard {
    id: u64,
    registry: Weak<Registry>,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        if let Some(r) = self.registry.upgrade() {
            r.remove(self.id);
        }
    }
}

/// A live subscription: events are delivered while it is held; dropping it unsubscribes.
///
/// For a stream subscription ([`EventBus::subscribe`](super::EventBus::subscribe)) it is also
/// the stream: `recv().await` the next event.
#[derive(Debug)]
pub struct Subscription<T = ()> {
    pub(crate) guard: SubscriptionGuard,
    pub(crate) rx: Option<tokio::sync::mpsc::UnboundedReceiver<Delivered<T>>>,
    pub(crate) _t: PhantomData<fn() -> T>,
}

impl<T> Subscription<T> {
    /// The next event (for stream subscriptions; `None` for actor and closure ones, and once
    /// the bus is gone).
    pub async fn recv(&mut self) -> Option<Delivered<T>> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => None,
        }
    }

    /// Stops the subscription (the same as dropping it).
    pub fn unsubscribe(self) {
        drop(self.guard);
    }
}

/// An event delivered to a subscriber: the decoded value and what the log knows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered<T> {
    /// The event.
    pub event: T,
    /// Its id, topic, offset, tenant and time in the log (the payload text included).
    pub meta: Arc<StoredEvent>,
}
