//! Errors of the supervision module.

use std::fmt;
use std::time::Duration;

/// Why a supervisor operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child failed to start (while the tree was starting, or when added at runtime). At
    /// tree start, the children started before it were stopped again, in reverse order.
    #[error("supervisor `{supervisor}` could not start child `{child}`: {}", super::actor::error_chain(&**.error))]
    ChildStartFailed {
        /// The supervisor's name.
        supervisor: String,
        /// The child that failed to start.
        child: String,
        /// What its start function or `pre_start` returned (downcast it to your own error
        /// type to tell, say, a configuration error from a connection failure).
        error: ractor::ActorProcessingErr,
    },
    /// Two children of one supervisor were given the same id.
    #[error("supervisor `{supervisor}` already has a child `{child}`; child ids must be unique")]
    DuplicateChild {
        /// The supervisor's name.
        supervisor: String,
        /// The id given twice.
        child: String,
    },
    /// No child with this id.
    #[error("supervisor `{supervisor}` has no child `{child}`")]
    NoSuchChild {
        /// The supervisor's name.
        supervisor: String,
        /// The id asked for.
        child: String,
    },
    /// The supervisor is not running (it stopped, failed, or is shutting down).
    #[error("supervisor `{supervisor}` is not running")]
    NotRunning {
        /// The supervisor's name.
        supervisor: String,
    },
    /// The supervisor actor itself could not be spawned.
    #[error("supervisor `{supervisor}` could not be spawned: {reason}")]
    Spawn {
        /// The supervisor's name.
        supervisor: String,
        /// Why.
        reason: String,
    },
    /// The supervisor did not stop within the given time.
    #[error("supervisor `{supervisor}` did not shut down within {timeout:?}")]
    ShutdownTimeout {
        /// The supervisor's name.
        supervisor: String,
        /// How long it was given.
        timeout: Duration,
    },
}

/// Why a message could not be delivered through a [`ChildHandle`](super::ChildHandle).
/// Every variant that took a message gives it back.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HandleError<M> {
    /// The child is down and waiting to be restarted (returned by `try_send`, which never
    /// waits).
    #[error("child `{child}` is restarting")]
    Restarting {
        /// The child's id.
        child: String,
        /// The message, given back.
        msg: M,
    },
    /// The child was not running again within the handle's wait bound.
    #[error("child `{child}` was not running again within {waited:?}")]
    Timeout {
        /// The child's id.
        child: String,
        /// How long the handle waited.
        waited: Duration,
        /// The message, given back.
        msg: M,
    },
    /// The child was removed or its supervisor stopped; it will not come back.
    #[error("child `{child}` is gone: it was removed or its supervisor stopped")]
    Gone {
        /// The child's id.
        child: String,
        /// The message, given back.
        msg: M,
    },
    /// A call got no reply in time, or the child dropped the reply port.
    #[error("child `{child}` did not reply")]
    NoReply {
        /// The child's id.
        child: String,
    },
    /// The actor's message type did not match the handle's (a bug in a start function).
    #[error("child `{child}` does not accept this handle's message type")]
    WrongType {
        /// The child's id.
        child: String,
    },
}

impl<M> HandleError<M> {
    /// The message that could not be delivered, if this error carries one.
    pub fn into_msg(self) -> Option<M> {
        match self {
            Self::Restarting { msg, .. } | Self::Timeout { msg, .. } | Self::Gone { msg, .. } => {
                Some(msg)
            }
            Self::NoReply { .. } | Self::WrongType { .. } => None,
        }
    }
}

impl<M> fmt::Debug for HandleError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, child) = match self {
            Self::Restarting { child, .. } => ("Restarting", child),
            Self::Timeout { child, .. } => ("Timeout", child),
            Self::Gone { child, .. } => ("Gone", child),
            Self::NoReply { child } => ("NoReply", child),
            Self::WrongType { child } => ("WrongType", child),
        };
        f.debug_struct(kind)
            .field("child", child)
            .finish_non_exhaustive()
    }
}
