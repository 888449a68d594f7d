//! The NATS service protocol (ADR-32) as data: the protocol name derived from ORE's dotted
//! service name, SemVer validation, the discovery subjects (`$SRV.PING`, `$SRV.INFO`,
//! `$SRV.STATS` and their narrower forms) and the JSON documents a service answers them with.
//!
//! Nothing here touches NATS; the service runner sends what this module builds. The documents
//! use ADR-32's field names exactly, so standard clients (the `nats` CLI, Go's `micro`,
//! `async_nats::service`) read what an ores-rs service answers, and ores-rs reads theirs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer, Serialize};

use super::ServiceSetupError;
use crate::nats::TimestampError;

/// The default prefix of the discovery subjects. ADR-32 asks for it to be overridable (as
/// `$JS` is); endpoint subjects never carry it.
pub const DEFAULT_SRV_PREFIX: &str = "$SRV";

/// The `type` of a [`PingResponse`].
pub const PING_RESPONSE_TYPE: &str = "io.nats.micro.v1.ping_response";
/// The `type` of an [`InfoResponse`].
pub const INFO_RESPONSE_TYPE: &str = "io.nats.micro.v1.info_response";
/// The `type` of a [`StatsResponse`].
pub const STATS_RESPONSE_TYPE: &str = "io.nats.micro.v1.stats_response";

/// The regular expression suggested by semver.org (the variant with named groups), anchored.
const SEMVER_PATTERN: &str = r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$";

/// Compiled once. Unicode is off so that `\d` means ASCII digits only, as semver.org
/// intends (in the `regex` crate `\d` would otherwise match any Unicode digit).
#[allow(clippy::expect_used)]
static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(SEMVER_PATTERN)
        .unicode(false)
        .build()
        .expect("the semver.org regular expression is valid")
});

/// The protocol name of a service: ORE's dotted name with every `.` replaced by `-`.
///
/// ORE keeps the dotted name as the queue group; ADR-32 allows only `A-Z a-z 0-9 - _` in the
/// name it uses in discovery subjects and documents.
///
/// ```
/// use ores_actors::service::protocol::protocol_name;
///
/// assert_eq!(protocol_name("ores.refdata.service").unwrap(), "ores-refdata-service");
/// assert!(protocol_name("ores refdata").is_err());
/// assert!(protocol_name("").is_err());
/// ```
///
/// # Errors
///
/// [`ServiceSetupError::InvalidName`] when the name is empty or holds a character other than
/// `A-Z a-z 0-9 - _ .`; the reason names the first such character and its index (in
/// characters, from 0).
pub fn protocol_name(ore_name: &str) -> Result<String, ServiceSetupError> {
    let invalid = |reason: String| ServiceSetupError::InvalidName {
        name: ore_name.to_owned(),
        reason,
    };
    if ore_name.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    let mut name = String::with_capacity(ore_name.len());
    for (index, c) in ore_name.chars().enumerate() {
        match c {
            '.' => name.push('-'),
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' => name.push(c),
            _ => {
                return Err(invalid(format!(
                    "character {c:?} at index {index} is not allowed"
                )));
            }
        }
    }
    Ok(name)
}

/// Checks that `version` is SemVer, with the regular expression semver.org suggests.
///
/// ```
/// use ores_actors::service::protocol::validate_version;
///
/// assert!(validate_version("1.2.3-rc.1+build.7").is_ok());
/// assert!(validate_version("v1.2.3").is_err());
/// ```
///
/// # Errors
///
/// [`ServiceSetupError::InvalidVersion`] when it does not match.
pub fn validate_version(version: &str) -> Result<(), ServiceSetupError> {
    if SEMVER.is_match(version) {
        return Ok(());
    }
    let reason = if version.starts_with(['v', 'V']) {
        "a leading `v` is not part of SemVer"
    } else {
        "it does not match the semver.org regular expression \
         (MAJOR.MINOR.PATCH, no leading zeros, optional -pre-release and +build)"
    };
    Err(ServiceSetupError::InvalidVersion {
        version: version.to_owned(),
        reason: reason.to_owned(),
    })
}

/// A discovery verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `PING`: is anyone there? Answered with a [`PingResponse`].
    Ping,
    /// `INFO`: what does the service offer? Answered with an [`InfoResponse`].
    Info,
    /// `STATS`: how has it been doing? Answered with a [`StatsResponse`].
    Stats,
}

impl Verb {
    /// The three verbs.
    pub const ALL: [Verb; 3] = [Verb::Ping, Verb::Info, Verb::Stats];

    /// The verb as it appears in subjects: `PING`, `INFO`, `STATS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ping => "PING",
            Verb::Info => "INFO",
            Verb::Stats => "STATS",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three subjects an instance answers `verb` on: `{prefix}.{VERB}` (every service),
/// `{prefix}.{VERB}.{name}` (every instance of the service) and `{prefix}.{VERB}.{name}.{id}`
/// (this instance). `srv_prefix` is normally [`DEFAULT_SRV_PREFIX`]; `name` is the protocol
/// name (see [`protocol_name`]).
///
/// ```
/// use ores_actors::service::protocol::{DEFAULT_SRV_PREFIX, Verb, discovery_subjects};
///
/// let [all, kind, one] = discovery_subjects(DEFAULT_SRV_PREFIX, Verb::Ping, "ores-refdata", "42");
/// assert_eq!(all, "$SRV.PING");
/// assert_eq!(kind, "$SRV.PING.ores-refdata");
/// assert_eq!(one, "$SRV.PING.ores-refdata.42");
/// ```
pub fn discovery_subjects(srv_prefix: &str, verb: Verb, name: &str, id: &str) -> [String; 3] {
    let all = format!("{srv_prefix}.{verb}");
    let kind = format!("{all}.{name}");
    let one = format!("{kind}.{id}");
    [all, kind, one]
}

/// Who answers: the fields every ADR-32 response starts with (flattened into each document).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Identity {
    /// The protocol name (see [`protocol_name`]).
    pub name: String,
    /// This instance's id, unique per running instance.
    pub id: String,
    /// The service's SemVer version.
    pub version: String,
    /// The service's metadata; written `{}` when empty, and `null` or absent read as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Identity {
    /// An identity without metadata.
    pub fn new(name: impl Into<String>, id: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            id: id.into(),
            version: version.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// The same identity with `metadata`.
    #[must_use]
    pub fn with_metadata(mut self, metadata: BTreeMap<String, String>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// The answer to `PING`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingResponse {
    /// [`PING_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Who answers.
    #[serde(flatten)]
    pub identity: Identity,
}

impl PingResponse {
    /// The `PING` answer of `identity`.
    pub fn new(identity: Identity) -> Self {
        Self {
            kind: PING_RESPONSE_TYPE.to_owned(),
            identity,
        }
    }
}

/// One endpoint as `INFO` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// The endpoint's name.
    pub name: String,
    /// The subject it really listens on (group prefix included).
    pub subject: String,
    /// The queue group it really uses; `""` for a plain subscription (the field is always
    /// written: `async_nats` requires it).
    #[serde(default)]
    pub queue_group: String,
    /// The endpoint's metadata; written `{}` when empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl EndpointInfo {
    /// An endpoint's description; `queue_group` `None` (a plain subscription) is written `""`.
    pub fn new(
        name: impl Into<String>,
        subject: impl Into<String>,
        queue_group: Option<&str>,
        metadata: BTreeMap<String, String>,
    ) -> Self {
        Self {
            name: name.into(),
            subject: subject.into(),
            queue_group: queue_group.unwrap_or_default().to_owned(),
            metadata,
        }
    }
}

/// The answer to `INFO`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// [`INFO_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Who answers.
    #[serde(flatten)]
    pub identity: Identity,
    /// The service's description, `""` when it has none.
    #[serde(default)]
    pub description: String,
    /// Every endpoint, those added after start included.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub endpoints: Vec<EndpointInfo>,
}

impl InfoResponse {
    /// The `INFO` answer of `identity`.
    pub fn new(
        identity: Identity,
        description: impl Into<String>,
        endpoints: Vec<EndpointInfo>,
    ) -> Self {
        Self {
            kind: INFO_RESPONSE_TYPE.to_owned(),
            identity,
            description: description.into(),
            endpoints,
        }
    }
}

/// One endpoint's statistics as `STATS` reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// The endpoint's name.
    pub name: String,
    /// The subject it really listens on.
    pub subject: String,
    /// The queue group it really uses; `""` for a plain subscription.
    #[serde(default)]
    pub queue_group: String,
    /// Requests handled (errors included).
    pub num_requests: u64,
    /// Requests that ended in an error reply.
    pub num_errors: u64,
    /// The last error, `""` when there was none.
    #[serde(default)]
    pub last_error: String,
    /// What the service's stats hook added, if any; omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The total processing time, written in nanoseconds (an integer).
    #[serde(with = "nanos")]
    pub processing_time: Duration,
    /// The total divided by the number of requests, truncated to the nanosecond; 0 when none.
    #[serde(with = "nanos")]
    pub average_processing_time: Duration,
}

/// The answer to `STATS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// [`STATS_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Who answers.
    #[serde(flatten)]
    pub identity: Identity,
    /// When the instance started; written as RFC 3339 in UTC with the fraction of the second
    /// Go's `micro` writes (`2024-02-29T12:34:56.123456789Z`, trailing zeros dropped).
    #[serde(with = "rfc3339_utc")]
    pub started: SystemTime,
    /// Every endpoint's statistics.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub endpoints: Vec<EndpointStats>,
}

impl StatsResponse {
    /// The `STATS` answer of `identity`, started at `started`.
    pub fn new(identity: Identity, started: SystemTime, endpoints: Vec<EndpointStats>) -> Self {
        Self {
            kind: STATS_RESPONSE_TYPE.to_owned(),
            identity,
            started,
            endpoints,
        }
    }
}

/// Reads `null` as the type's default (some implementations write `null` for an empty map or
/// list).
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A `Duration` written as whole nanoseconds (saturating at `u64::MAX`, ~584 years).
mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_nanos)
    }
}

/// A `SystemTime` written as RFC 3339 in UTC with the second's fraction (as Go's
/// `time.RFC3339Nano`: up to 9 digits, trailing zeros dropped, none when whole).
///
/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
mod rfc3339_utc {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::nats::{OreTimestamp, TimestampError};

    pub(super) fn format(time: SystemTime) -> Result<String, TimestampError> {
        let whole = OreTimestamp::try_from(time)?;
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut text = whole.to_string();
        if nanos != 0 {
            text.pop(); // the `Z`
            let fraction = format!("{nanos:09}");
            text.push('.');
            text.push_str(fraction.trim_end_matches('0'));
            text.push('Z');
        }
        Ok(text)
    }

    pub(super) fn parse(text: &str) -> Result<SystemTime, TimestampError> {
        let bad = |why: &str| {
            TimestampError::new(
                text,
                format!("{why} (expected RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`)"),
            )
        };
        let (Some(date_time), Some(mut rest)) = (text.get(..19), text.get(19..)) else {
            return Err(bad("too short"));
        };
        let whole: OreTimestamp = format!("{date_time}Z")
            .parse()
            .map_err(|_| bad("the date or time is not valid"))?;
        let mut nanos: u32 = 0;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let digits = after_dot.len()
                - after_dot
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            if digits == 0 {
                return Err(bad("no digit after `.`"));
            }
            for (i, b) in after_dot.bytes().take(digits.min(9)).enumerate() {
                nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
            }
            rest = &after_dot[digits..];
        }
        let offset_secs: i64 = match rest.as_bytes() {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
                if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) =>
            {
                let num = |a: &u8, b: &u8| i64::from((a - b'0') * 10 + (b - b'0'));
                let secs = num(h1, h2) * 3600 + num(m1, m2) * 60;
                if *sign == b'+' { secs } else { -secs }
            }
            _ => return Err(bad("the offset must be `Z` or `±HH:MM`")),
        };
        let utc_secs = i64::try_from(whole.unix_seconds())
            .map_err(|_| bad("out of range"))?
            .checked_sub(offset_secs)
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| bad("before 1970"))?;
        Ok(UNIX_EPOCH + Duration::new(utc_secs, nanos))
    }

    pub(super) fn serialize<S: Serializer>(
        time: &SystemTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*time).map_err(S::Error::custom)?)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse(&text).map_err(D::Error::custom)
    }
}

/// `time` written as STATS writes `started`: RFC 3339 in UTC with the second's fraction,
/// trailing zeros dropped (`2024-02-29T12:34:56.5Z`; `2024-02-29T12:34:56Z` when whole).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use ores_actors::service::protocol::format_started;
///
/// let t = UNIX_EPOCH + Duration::new(1_709_210_096, 500_000_000);
/// assert_eq!(format_started(t).unwrap(), "2024-02-29T12:34:56.5Z");
/// ```
///
/// # Errors
///
/// [`TimestampError`] for a time before 1970 or after 9999.
pub fn format_started(time: SystemTime) -> Result<String, TimestampError> {
    rfc3339_utc::format(time)
}

/// Reads an RFC 3339 timestamp as written in STATS' `started`
/// (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; digits past the nanosecond are dropped).
///
/// # Errors
///
/// [`TimestampError`] naming the text and the expected shape.
pub fn parse_started(text: &str) -> Result<SystemTime, TimestampError> {
    rfc3339_utc::parse(text)
}
