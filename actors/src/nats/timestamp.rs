//! ORE's wire timestamps: `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds, `Z` required.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::TimestampError;

const SHAPE: &str = "expected `YYYY-MM-DDTHH:MM:SSZ` (UTC, ending in `Z`)";
/// `9999-12-31T23:59:59Z`.
const MAX_SECS: u64 = 253_402_300_799;

/// A wire timestamp: whole seconds since the Unix epoch, from `1970-01-01T00:00:00Z` to
/// `9999-12-31T23:59:59Z`, written `YYYY-MM-DDTHH:MM:SSZ`.
///
/// Use it as a field type, or keep a `SystemTime` field and annotate it with
/// `#[serde(with = "ores_actors::nats::ore_timestamp")]`.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use ores_actors::nats::OreTimestamp;
///
/// # fn main() -> Result<(), ores_actors::nats::TimestampError> {
/// let ts: OreTimestamp = "2024-02-29T12:34:56Z".parse()?;
/// assert_eq!(ts.unix_seconds(), 1_709_210_096);
/// assert_eq!(ts.to_string(), "2024-02-29T12:34:56Z");
/// let time: SystemTime = ts.into();
/// assert_eq!(time, UNIX_EPOCH + Duration::from_secs(1_709_210_096));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OreTimestamp(u64);

impl OreTimestamp {
    /// Now, truncated to the second.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self(secs.min(MAX_SECS))
    }

    /// The timestamp `secs` seconds after the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`TimestampError`] past `9999-12-31T23:59:59Z`.
    pub fn from_unix_seconds(secs: u64) -> Result<Self, TimestampError> {
        if secs > MAX_SECS {
            return Err(TimestampError::new(
                &format!("{secs} s after the epoch"),
                "it is after 9999-12-31T23:59:59Z",
            ));
        }
        Ok(Self(secs))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> u64 {
        self.0
    }
}

impl TryFrom<SystemTime> for OreTimestamp {
    type Error = TimestampError;

    /// Truncates to the second; refuses times before 1970 or after 9999.
    fn try_from(value: SystemTime) -> Result<Self, Self::Error> {
        let secs = value
            .duration_since(UNIX_EPOCH)
            .map_err(|e| {
                TimestampError::new(
                    &format!("{} s before the epoch", e.duration().as_secs()),
                    "it is before 1970-01-01T00:00:00Z",
                )
            })?
            .as_secs();
        Self::from_unix_seconds(secs)
    }
}

impl From<OreTimestamp> for SystemTime {
    fn from(value: OreTimestamp) -> Self {
        UNIX_EPOCH + Duration::from_secs(value.0)
    }
}

/// The calendar month `month` (1..=12).
fn month_of(month: u64) -> Option<time::Month> {
    u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
}

/// Days since 1970-01-01 of a valid date (checked by the caller).
fn days_from_civil(year: u64, month: time::Month, day: u64) -> Option<u64> {
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    u64::try_from(date.to_julian_day() - time::OffsetDateTime::UNIX_EPOCH.date().to_julian_day())
        .ok()
}

/// The date of a day count since 1970-01-01: `(year, month, day)`.
fn civil_from_days(days: u64) -> (i32, u8, u8) {
    let epoch = time::OffsetDateTime::UNIX_EPOCH.date().to_julian_day();
    i32::try_from(days)
        .ok()
        .and_then(|d| time::Date::from_julian_day(epoch + d).ok())
        .map_or((9999, 12, 31), |date| {
            (date.year(), u8::from(date.month()), date.day())
        })
}

impl FromStr for OreTimestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let shape_ok = bytes.len() == 20
            && bytes.iter().enumerate().all(|(i, &b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'Z',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(TimestampError::new(s, SHAPE));
        }
        let num = |from: usize, to: usize| {
            bytes[from..to]
                .iter()
                .fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'))
        };
        let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
        let (hour, minute, second) = (num(11, 13), num(14, 16), num(17, 19));
        let range = |what: &str, value: u64, max: u64| {
            TimestampError::new(s, format!("{what} {value} is out of range 1..={max}"))
        };
        if year < 1970 {
            return Err(TimestampError::new(
                s,
                format!("year {year} is before 1970"),
            ));
        }
        let Some(calendar_month) = month_of(month) else {
            return Err(range("month", month, 12));
        };
        let max_day = u64::from(time::util::days_in_month(
            calendar_month,
            i32::try_from(year).unwrap_or(i32::MAX),
        ));
        if !(1..=max_day).contains(&day) {
            return Err(range("day", day, max_day));
        }
        if hour > 23 {
            return Err(TimestampError::new(
                s,
                format!("hour {hour} is out of range 0..=23"),
            ));
        }
        if minute > 59 {
            return Err(TimestampError::new(
                s,
                format!("minute {minute} is out of range 0..=59"),
            ));
        }
        if second > 59 {
            return Err(TimestampError::new(
                s,
                format!("second {second} is out of range 0..=59"),
            ));
        }
        let days = days_from_civil(year, calendar_month, day)
            .ok_or_else(|| TimestampError::new(s, SHAPE))?;
        Ok(Self(days * 86_400 + hour * 3600 + minute * 60 + second))
    }
}

impl fmt::Display for OreTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0 / 86_400);
        let secs = self.0 % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

impl Serialize for OreTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OreTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for a `SystemTime` field written as an ORE timestamp
/// (`YYYY-MM-DDTHH:MM:SSZ`); sub-second precision is dropped on serialization.
///
/// ```
/// use std::time::SystemTime;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Audit {
///     #[serde(with = "ores_actors::nats::ore_timestamp")]
///     recorded_at: SystemTime,
/// }
///
/// # fn main() -> Result<(), serde_json::Error> {
/// let audit: Audit = serde_json::from_str(r#"{"recorded_at":"2024-01-02T03:04:05Z"}"#)?;
/// assert_eq!(serde_json::to_string(&audit)?, r#"{"recorded_at":"2024-01-02T03:04:05Z"}"#);
/// # Ok(())
/// # }
/// ```
pub mod ore_timestamp {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::OreTimestamp;

    /// Writes `time` as `YYYY-MM-DDTHH:MM:SSZ`.
    ///
    /// # Errors
    ///
    /// A serializer error for a time before 1970 or after 9999.
    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        OreTimestamp::try_from(*time)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }

    /// Reads `YYYY-MM-DDTHH:MM:SSZ`.
    ///
    /// # Errors
    ///
    /// A deserializer error naming the refused value and the expected shape.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        OreTimestamp::deserialize(deserializer).map(SystemTime::from)
    }

    /// The same for an `Option<SystemTime>` field (`null`/absent as `None`); use with
    /// `#[serde(default, with = "ores_actors::nats::ore_timestamp::option")]`.
    pub mod option {
        use std::time::SystemTime;

        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        use super::OreTimestamp;

        /// Writes `Some(time)` as `YYYY-MM-DDTHH:MM:SSZ` and `None` as none.
        ///
        /// # Errors
        ///
        /// A serializer error for a time before 1970 or after 9999.
        pub fn serialize<S: Serializer>(
            time: &Option<SystemTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            time.map(OreTimestamp::try_from)
                .transpose()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer)
        }

        /// Reads an optional `YYYY-MM-DDTHH:MM:SSZ`.
        ///
        /// # Errors
        ///
        /// A deserializer error naming the refused value and the expected shape.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            Ok(Option::<OreTimestamp>::deserialize(deserializer)?.map(SystemTime::from))
        }
    }
}
