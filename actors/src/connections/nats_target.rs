//! From a resolved bookmark to what the NATS connection actor needs: a [`NatsConfig`] with the
//! server URL, the subject prefix and the user's credentials.

use crate::nats::{self, Credentials, NatsConfig, NatsConfigError};

use super::model::ResolvedConnection;
use super::vault::Secret;

impl ResolvedConnection {
    /// A [`NatsConfig`] for this connection: its URL, its subject prefix, and, when it has a
    /// user name, that user with `password` (from [`Bookmarks::resolve`]); the connection
    /// name the server shows is `ores:<bookmark name>`. Checked with
    /// [`NatsConfig::validate`].
    ///
    /// ```no_run
    /// # use ores_actors::connections::actor::Bookmarks;
    /// # async fn demo(bookmarks: Bookmarks) -> Result<(), Box<dyn std::error::Error>> {
    /// let (target, password) = bookmarks.resolve("alice@prod").await?;
    /// let config = target.nats_config(password.as_ref())?;
    /// let nats = ores_actors::nats::Nats::new(config)?;
    /// let spec = nats.child_spec(); // put it under a supervisor
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`NatsConfigError::BadPrefix`] when the connection has no subject prefix (only an
    /// environment gives one) or a malformed one; [`NatsConfigError::BadUrl`] for a host that
    /// makes no URL.
    ///
    /// [`Bookmarks::resolve`]: super::handle::Bookmarks::resolve
    pub fn nats_config(&self, password: Option<&Secret>) -> Result<NatsConfig, NatsConfigError> {
        if self.subject_prefix.trim().is_empty() {
            return Err(NatsConfigError::BadPrefix {
                prefix: String::new(),
                reason: format!(
                    "bookmark `{}` has none (a connection takes its prefix from its environment)",
                    self.name
                ),
            });
        }
        let mut config = NatsConfig::new(&self.nats_url(), self.subject_prefix.trim())
            .name(format!("ores:{}", self.name));
        if !self.username.is_empty() {
            config = config.credentials(Credentials::UserPassword {
                user: self.username.clone(),
                password: nats::Secret::new(
                    password.map(|p| p.expose().to_owned()).unwrap_or_default(),
                ),
            });
        }
        config.validate()?;
        Ok(config)
    }
}
