//! [`NatsConfig`]: where and how the connection actor connects, checked up front.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ores_runtime::config::{NatsSettings, WireFormat};

/// A secret string (password, token, NKey seed): never shown by `Debug`, wiped from memory
/// when dropped (async-nats receives its own copy when connecting).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(zeroize::Zeroizing::new(s.into()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// No credentials.
    #[default]
    None,
    /// User and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A token.
    Token(Secret),
    /// An NKey seed (`SU…`).
    NKeySeed(Secret),
    /// A `.creds` file (JWT and seed).
    CredsFile(PathBuf),
}

/// TLS files: CA, client certificate and client key; all three, or no TLS at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The client certificate (PEM).
    pub cert: PathBuf,
    /// The client key (PEM).
    pub key: PathBuf,
}

impl TlsFiles {
    /// TLS from three optional paths, as they come from configuration: all three or none.
    ///
    /// # Errors
    /// [`NatsConfigError::TlsIncomplete`] naming the missing ones.
    pub fn from_parts(
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<Self>, NatsConfigError> {
        match (ca, cert, key) {
            (None, None, None) => Ok(None),
            (Some(ca), Some(cert), Some(key)) => Ok(Some(Self { ca, cert, key })),
            (ca, cert, key) => {
                let missing: Vec<&str> = [
                    ("ca", ca.is_none()),
                    ("cert", cert.is_none()),
                    ("key", key.is_none()),
                ]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
                Err(NatsConfigError::TlsIncomplete {
                    missing: missing.join(", "),
                })
            }
        }
    }
}

/// A configuration the connection actor cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NatsConfigError {
    /// No server URL.
    #[error("no NATS server URL configured (set `nats.url` or ORES_NATS_URL)")]
    NoServers,
    /// A server URL that does not parse.
    #[error("invalid NATS server URL `{url}`: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The subject prefix is missing or malformed.
    #[error(
        "invalid NATS subject prefix `{prefix}`: {reason} (expected `ores.<tier>.<instance>`, set `nats.subject_prefix` or ORES_NATS_SUBJECT_PREFIX)"
    )]
    BadPrefix {
        /// The prefix.
        prefix: String,
        /// Why.
        reason: String,
    },
    /// Only some of the TLS files were given.
    #[error(
        "TLS needs a CA, a client certificate and a client key, or none of them; missing: {missing}"
    )]
    TlsIncomplete {
        /// The missing parts.
        missing: String,
    },
    /// A TLS or credentials file cannot be read.
    #[error("cannot read the NATS {what} file `{path}`: {reason}")]
    File {
        /// Which file (CA, client certificate, client key, credentials).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Credentials were given in more than one form, or a user without a password.
    #[error(
        "NATS credentials: give one of `user` with `password`, `token`, `nkey_seed` or `creds_file`"
    )]
    Credentials,
    /// A duration that must be positive was zero.
    #[error("NATS `{key}` must be longer than zero")]
    ZeroDuration {
        /// The setting.
        key: &'static str,
    },
}

/// Everything the connection actor needs.
///
/// ```
/// use std::time::Duration;
/// use ores_actors::nats::NatsConfig;
///
/// let config = NatsConfig::new("nats://127.0.0.1:4222", "ores.dev.local1")
///     .request_timeout(Duration::from_secs(5))
///     .lost_after(Duration::from_secs(3));
/// config.validate()?;
/// # Ok::<(), ores_actors::nats::NatsConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsConfig {
    /// Server URLs (`nats://host:port`, `tls://host:port`); tried in order.
    pub servers: Vec<String>,
    /// The subject prefix, `ores.<tier>.<instance>`.
    pub subject_prefix: String,
    /// Credentials.
    pub credentials: Credentials,
    /// TLS files.
    pub tls: Option<TlsFiles>,
    /// The wire format of bodies this client sends (it decodes either).
    pub wire_format: WireFormat,
    /// The default request timeout (a call may override it). Default 10 s.
    pub request_timeout: Duration,
    /// The connection name the server shows.
    pub name: String,
    /// How long the link may stay down before the connection is declared lost and the actor
    /// fails (default 5 s).
    pub lost_after: Duration,
    /// How long one connection attempt may take (default 5 s).
    pub connect_timeout: Duration,
    /// How many messages a subscription buffers before async-nats drops messages and reports
    /// a slow consumer (default 65,536).
    pub subscription_capacity: usize,
    /// The longest wait between two reconnect attempts while the link is down (default
    /// 250 ms): attempts start at once and back off exponentially to this, with jitter, so a
    /// returning server is found within about this long.
    pub reconnect_max_delay: Duration,
}

impl NatsConfig {
    /// A configuration for `servers` (comma-separated URLs) and `subject_prefix`, with
    /// defaults for the rest.
    pub fn new(servers: &str, subject_prefix: impl Into<String>) -> Self {
        Self {
            servers: servers
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            subject_prefix: subject_prefix.into(),
            credentials: Credentials::None,
            tls: None,
            wire_format: WireFormat::default(),
            request_timeout: Duration::from_secs(10),
            name: "ores".into(),
            lost_after: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            subscription_capacity: 65_536,
            reconnect_max_delay: Duration::from_millis(250),
        }
    }

    /// From the NATS section of the layered configuration (`nats.url`,
    /// `nats.subject_prefix`, `nats.wire_format`, `nats.request_timeout_ms`).
    ///
    /// # Errors
    /// [`NatsConfigError::BadPrefix`] when no subject prefix is set.
    pub fn from_settings(settings: &NatsSettings) -> Result<Self, NatsConfigError> {
        let prefix = settings
            .subject_prefix
            .clone()
            .ok_or_else(|| NatsConfigError::BadPrefix {
                prefix: String::new(),
                reason: "it is required".into(),
            })?;
        let mut config = Self::new(&settings.url, prefix);
        config.wire_format = settings.wire_format;
        if let Some(ms) = settings.request_timeout_ms {
            config.request_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = settings.lost_after_ms {
            config.lost_after = Duration::from_millis(ms);
        }
        if let Some(name) = &settings.name {
            config.name = name.clone();
        }
        config.credentials = match (
            &settings.user,
            &settings.password,
            &settings.token,
            &settings.nkey_seed,
            &settings.creds_file,
        ) {
            (None, None, None, None, None) => Credentials::None,
            (Some(user), Some(password), None, None, None) => Credentials::UserPassword {
                user: user.clone(),
                password: Secret::new(password.0.clone()),
            },
            (None, None, Some(token), None, None) => {
                Credentials::Token(Secret::new(token.0.clone()))
            }
            (None, None, None, Some(seed), None) => {
                Credentials::NKeySeed(Secret::new(seed.0.clone()))
            }
            (None, None, None, None, Some(path)) => Credentials::CredsFile(path.clone()),
            _ => return Err(NatsConfigError::Credentials),
        };
        config.tls = TlsFiles::from_parts(
            settings.tls_ca.clone(),
            settings.tls_cert.clone(),
            settings.tls_key.clone(),
        )?;
        config.validate()?;
        Ok(config)
    }

    /// Set the credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Use TLS with these files.
    pub fn tls(mut self, tls: TlsFiles) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Set the wire format.
    pub fn wire_format(mut self, format: WireFormat) -> Self {
        self.wire_format = format;
        self
    }

    /// Set the default request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Set the connection name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Set how long one connection attempt may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set the longest wait between two reconnect attempts (default 250 ms).
    pub fn reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay;
        self
    }

    /// Set how many messages a subscription buffers before it is a slow consumer.
    pub fn subscription_capacity(mut self, capacity: usize) -> Self {
        self.subscription_capacity = capacity.max(1);
        self
    }

    /// Set how long the link may stay down before the connection is declared lost.
    pub fn lost_after(mut self, grace: Duration) -> Self {
        self.lost_after = grace;
        self
    }

    /// Check everything that can be checked before connecting: URLs, prefix, TLS and
    /// credentials files, durations.
    ///
    /// # Errors
    /// The first problem found, as a [`NatsConfigError`].
    pub fn validate(&self) -> Result<(), NatsConfigError> {
        if self.servers.is_empty() {
            return Err(NatsConfigError::NoServers);
        }
        for url in &self.servers {
            check_url(url)?;
        }
        check_prefix(&self.subject_prefix)?;
        if let Some(tls) = &self.tls {
            check_file("CA", &tls.ca)?;
            check_file("client certificate", &tls.cert)?;
            check_file("client key", &tls.key)?;
        }
        if let Credentials::CredsFile(path) = &self.credentials {
            check_file("credentials", path)?;
        }
        for (key, d) in [
            ("request_timeout", self.request_timeout),
            ("lost_after", self.lost_after),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(NatsConfigError::ZeroDuration { key });
            }
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), NatsConfigError> {
    let bad = |reason: &str| NatsConfigError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = match url.split_once("://") {
        Some(("nats" | "tls" | "ws" | "wss", rest)) => rest,
        Some((scheme, _)) => {
            return Err(bad(&format!(
                "unknown scheme `{scheme}`, expected `nats`, `tls`, `ws` or `wss`"
            )));
        }
        None => url,
    };
    let host_port = rest.rsplit('@').next().unwrap_or(rest);
    if host_port.is_empty() {
        return Err(bad("no host"));
    }
    // `[::1]:4222` or `[::1]`: the port, if any, comes after the closing bracket.
    let after_host = match host_port.rfind(']') {
        Some(i) => &host_port[i + 1..],
        None => host_port,
    };
    if let Some((_, port)) = after_host.rsplit_once(':')
        && !port.is_empty()
        && port.parse::<u16>().is_err()
    {
        return Err(bad(&format!(
            "port `{port}` is not a number from 0 to 65535"
        )));
    }
    Ok(())
}

pub(crate) fn check_prefix(prefix: &str) -> Result<(), NatsConfigError> {
    let bad = |reason: String| NatsConfigError::BadPrefix {
        prefix: prefix.to_string(),
        reason,
    };
    if prefix.is_empty() {
        return Err(bad("it is required".into()));
    }
    for (i, token) in prefix.split('.').enumerate() {
        if token.is_empty() {
            return Err(bad(format!("token {} is empty", i + 1)));
        }
        if token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
        {
            return Err(bad(format!(
                "token {} `{token}` has whitespace or a wildcard",
                i + 1
            )));
        }
    }
    Ok(())
}

fn check_file(what: &'static str, path: &Path) -> Result<(), NatsConfigError> {
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| NatsConfigError::File {
            what,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}
