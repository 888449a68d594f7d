//! The connection-state stream: what the link to NATS is doing, for actors and tests.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Not connected yet (the first connect is being retried).
    Connecting,
    /// Connected.
    Connected,
    /// The link dropped; async-nats is reconnecting.
    Disconnected,
    /// The connection is closed or declared lost; the actor fails and is restarted.
    Closed,
}

/// Something that happened to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// Connected for the first time (in this incarnation of the actor).
    Connected,
    /// The link dropped; requests in flight failed at once.
    Disconnected,
    /// Connected again after a drop; subscriptions were renewed by the client.
    Reconnected,
    /// The server announced lame-duck mode: it will close soon (the client reconnects, to
    /// another server of the list when there is one, when it does).
    LameDuck,
    /// A subscription's local buffer was full and async-nats dropped messages for it.
    SlowConsumer {
        /// Which subscription (`subscription <sid>`: async-nats reports only its id).
        subject: String,
    },
    /// The server reported an error (e.g. an authorization violation).
    ServerError(String),
    /// The connection is closed.
    Closed,
    /// The connection was declared lost (down past the grace period, closed, or an
    /// authentication failure); the actor fails and its supervisor restarts it.
    Lost {
        /// Why.
        reason: String,
    },
}

/// The state of the link, shared by the actor (which writes it) and clients (which read it).
#[derive(Debug, Clone)]
pub(crate) struct StateCell {
    status: Arc<watch::Sender<LinkStatus>>,
    events: broadcast::Sender<ConnectionEvent>,
}

impl StateCell {
    pub(crate) fn new() -> Self {
        let (status, _) = watch::channel(LinkStatus::Connecting);
        let (events, _) = broadcast::channel(256);
        Self {
            status: Arc::new(status),
            events,
        }
    }

    pub(crate) fn set(&self, status: LinkStatus) {
        self.status.send_replace(status);
    }

    pub(crate) fn status(&self) -> LinkStatus {
        *self.status.borrow()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<LinkStatus> {
        self.status.subscribe()
    }

    pub(crate) fn emit(&self, event: ConnectionEvent) {
        match &event {
            ConnectionEvent::Lost { reason } => {
                tracing::error!(target: "ores_actors::nats", %reason, "NATS connection lost");
            }
            ConnectionEvent::Disconnected | ConnectionEvent::LameDuck => {
                tracing::warn!(target: "ores_actors::nats", event = ?event, "NATS connection");
            }
            other => tracing::info!(target: "ores_actors::nats", event = ?other, "NATS connection"),
        }
        let _ = self.events.send(event);
    }

    pub(crate) fn subscribe(&self) -> ConnectionEvents {
        ConnectionEvents {
            rx: self.events.subscribe(),
        }
    }
}

/// A subscription to [`ConnectionEvent`]s.
#[derive(Debug)]
pub struct ConnectionEvents {
    rx: broadcast::Receiver<ConnectionEvent>,
}

impl ConnectionEvents {
    /// The next event; `None` once the stream is closed. Events missed by a slow subscriber
    /// are skipped.
    pub async fn recv(&mut self) -> Option<ConnectionEvent> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Wait at most `within` for the first event that satisfies `pred`.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&ConnectionEvent) -> bool,
    ) -> Option<ConnectionEvent> {
        tokio::time::timeout(within, async {
            while let Some(e) = self.recv().await {
                if pred(&e) {
                    return Some(e);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }
}
