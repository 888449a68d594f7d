//! The discovery subjects of the NATS service protocol: `$SRV.PING|INFO|STATS`, each also
//! `.<name>` and `.<name>.<id>`, answered with JSON documents.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::select_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::actor::{Phase, until};
use super::error::ServiceError;
use super::handle::Shared;
use super::protocol::{Verb, discovery_subjects};

/// Subscribes the nine discovery subjects (never prefixed: the `$SRV` prefix is the service's
/// setting) and answers them until the service stops.
pub(crate) async fn subscribe(
    client: &Arc<async_nats::Client>,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> Result<JoinHandle<()>, ServiceError> {
    let service = &shared.service;
    let mut subscribers = Vec::with_capacity(9);
    for verb in Verb::ALL {
        for subject in discovery_subjects(
            &service.srv_prefix,
            verb,
            &service.protocol_name,
            &service.id,
        ) {
            let sub = client.subscribe(subject.clone()).await.map_err(|e| {
                ServiceError::internal(format!("cannot subscribe to `{subject}`: {e}"))
            })?;
            subscribers.push(sub.map(move |m| (verb, m)));
        }
    }
    let client = Arc::clone(client);
    Ok(tokio::spawn(async move {
        let mut all = select_all(subscribers);
        loop {
            let next = tokio::select! {
                () = until(&mut phase, |p| p != Phase::Serving) => return,
                next = all.next() => next,
            };
            let Some((verb, msg)) = next else { return };
            let Some(reply) = msg.reply else { continue };
            let body = match verb {
                Verb::Ping => serde_json::to_vec(&shared.ping()),
                Verb::Info => serde_json::to_vec(&shared.info()),
                Verb::Stats => serde_json::to_vec(&shared.stats()),
            };
            match body {
                Ok(body) => {
                    if let Err(e) = client.publish(reply, Bytes::from(body)).await {
                        tracing::debug!(target: "ores_actors::service", error = %e, "discovery reply not sent");
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "ores_actors::service", error = %e, "discovery document did not encode");
                }
            }
        }
    }))
}
