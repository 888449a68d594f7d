//! Public handle and error types can cross threads and tasks.

use ores_runtime::config::ConfigError;
use ores_runtime::runtime::{RuntimeError, RuntimeHandle};
use ores_runtime::supervisor::{
    Backoff, ChildHandle, ChildSpec, EventSender, HandleError, Intensity, Supervisor,
    SupervisorError, SupervisorEvent, SupervisorEvents,
};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Supervisor>();
    send_sync::<ChildHandle<u64>>();
    send_sync::<ChildSpec<u64>>();
    send_sync::<EventSender>();
    send_sync::<SupervisorEvent>();
    send_sync::<SupervisorError>();
    send_sync::<HandleError<u64>>();
    send_sync::<Backoff>();
    send_sync::<Intensity>();
    send_sync::<RuntimeHandle>();
    send_sync::<RuntimeError>();
    send_sync::<ConfigError>();
    send::<SupervisorEvents>();
}
