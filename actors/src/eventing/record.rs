//! Events as the log holds them: [`StoredEvent`] and its place in the log, [`Offset`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::error::EventError;
use super::event::Event;
use super::schema::BusSchema;

/// A place in the log: after the event at (`xid`, `position`). Readers follow the log in this
/// order, and only below the snapshot horizon, so they never skip an event that commits late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Offset {
    /// The writing transaction's id (`xid8`).
    pub xid: u64,
    /// The event's position (a sequence, in write order).
    pub position: i64,
}

/// An event read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event id (a UUIDv7, made by the publisher): use it to make effects exactly once.
    pub id: String,
    /// Where it is in the log.
    pub offset: Offset,
    /// Its topic.
    pub topic: String,
    /// Its key, if any.
    pub key: Option<String>,
    /// Its tenant, if any.
    pub tenant: Option<String>,
    /// The payload, as JSON text.
    pub payload: String,
    /// Headers, as a JSON object text.
    pub headers: String,
    /// When it was written.
    pub created_at: SystemTime,
}

impl StoredEvent {
    /// The headers, as name → value (empty when there are none or they are not an object of
    /// strings).
    pub fn header_map(&self) -> std::collections::BTreeMap<String, String> {
        serde_json::from_str(&self.headers).unwrap_or_default()
    }

    /// The payload decoded as `T`.
    ///
    /// # Errors
    /// [`EventError::Decode`] naming the event, its topic and the type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        serde_json::from_str(&self.payload).map_err(|e| EventError::Decode {
            id: self.id.clone(),
            topic: self.topic.clone(),
            target: std::any::type_name::<T>(),
            reason: e.to_string(),
        })
    }

    pub(crate) fn from_row(row: &PgRow) -> Result<Self, EventError> {
        let xid: String = row.try_get("xid")?;
        let micros: i64 = row.try_get("created_us")?;
        Ok(Self {
            id: row.try_get("id")?,
            offset: Offset {
                xid: xid.parse().map_err(|_| {
                    EventError::Database(format!("unexpected xid8 text `{xid}` in the log"))
                })?,
                position: row.try_get("position")?,
            },
            topic: row.try_get("topic")?,
            key: row.try_get("key")?,
            tenant: row.try_get("tenant")?,
            payload: row.try_get("payload")?,
            headers: row.try_get("headers")?,
            created_at: UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0)),
        })
    }
}

/// The columns every reader selects, in the shape [`StoredEvent::from_row`] reads.
pub(crate) const COLUMNS: &str = "id::text AS id, xid::text AS xid, position, topic, key, \
     tenant, payload::text AS payload, headers::text AS headers, \
     (extract(epoch FROM created_at) * 1000000)::int8 AS created_us";

/// An event ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewEvent {
    pub(crate) id: String,
    pub(crate) topic: String,
    pub(crate) key: Option<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) payload: String,
    /// A JSON object of string values.
    pub(crate) headers: String,
}

impl NewEvent {
    /// Encodes `event`, checking its topic and size.
    pub(crate) fn encode<E: Event>(event: &E, max_payload: usize) -> Result<Self, EventError> {
        let topic = event.topic().into_owned();
        check_topic(&topic)?;
        let payload = serde_json::to_string(event).map_err(|e| EventError::Encode {
            topic: topic.clone(),
            reason: e.to_string(),
        })?;
        if payload.len() > max_payload {
            return Err(EventError::TooLarge {
                topic,
                size: payload.len(),
                max: max_payload,
            });
        }
        Ok(Self {
            id: uuid::Uuid::now_v7().to_string(),
            key: event.key().map(|k| k.into_owned()),
            tenant: event.tenant().map(|t| t.into_owned()),
            topic,
            payload,
            headers: "{}".to_string(),
        })
    }

    /// The same event with `headers` (e.g. a correlation id, a `traceparent`).
    pub(crate) fn with_headers(mut self, headers: &[(&str, &str)]) -> Self {
        let map: std::collections::BTreeMap<&str, &str> = headers.iter().copied().collect();
        self.headers = serde_json::to_string(&map).unwrap_or_else(|_| "{}".to_string());
        self
    }
}

/// A subscription pattern over topics (`*` one token, `>` the rest), checked.
pub(crate) fn topic_pattern(text: &str) -> Result<crate::nats::SubjectPattern, EventError> {
    crate::nats::SubjectPattern::new(text).map_err(|e| EventError::Topic {
        topic: text.to_string(),
        reason: e.to_string(),
    })
}

/// A topic is a literal dotted name: no empty token, whitespace or wildcard.
pub(crate) fn check_topic(topic: &str) -> Result<(), EventError> {
    crate::nats::Subject::new(topic)
        .map(|_| ())
        .map_err(|e| EventError::Topic {
            topic: topic.to_string(),
            reason: e.to_string(),
        })
}

/// Inserts `events` in one statement, inside the caller's transaction or connection, and
/// wakes readers (one NOTIFY per transaction: PostgreSQL folds identical ones).
pub(crate) async fn insert<'c, X>(
    executor: X,
    schema: &BusSchema,
    events: &[&NewEvent],
) -> Result<(), EventError>
where
    X: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let topics: Vec<&str> = events.iter().map(|e| e.topic.as_str()).collect();
    let keys: Vec<Option<&str>> = events.iter().map(|e| e.key.as_deref()).collect();
    let tenants: Vec<Option<&str>> = events.iter().map(|e| e.tenant.as_deref()).collect();
    let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    let headers: Vec<&str> = events.iter().map(|e| e.headers.as_str()).collect();
    let sql = format!(
        "WITH written AS (
             INSERT INTO {events} (id, topic, key, tenant, payload, headers)
             SELECT i::uuid, t, k, te, p::json, h::json
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 AS x(i, t, k, te, p, h)
             RETURNING 1
         )
         SELECT pg_notify($7, ''), (SELECT count(*) FROM written)",
        events = schema.table("events"),
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(topics)
        .bind(keys)
        .bind(tenants)
        .bind(payloads)
        .bind(headers)
        .bind(schema.channel())
        .execute(executor)
        .await?;
    Ok(())
}

/// Up to `limit` events after `after`, in log order, below the snapshot horizon (every
/// transaction older than the horizon has ended, so nothing can appear behind what is read).
pub(crate) async fn fetch(
    pool: &sqlx::PgPool,
    schema: &BusSchema,
    after: Offset,
    limit: usize,
) -> Result<Vec<StoredEvent>, EventError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {events}
         WHERE (xid, position) > ($1::text::xid8, $2)
           AND xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY xid, position
         LIMIT $3",
        events = schema.table("events"),
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(after.xid.to_string())
        .bind(after.position)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
    rows.iter().map(StoredEvent::from_row).collect()
}

/// The head of the log now: an offset before every event a transaction not yet ended may
/// still write.
pub(crate) async fn head(pool: &sqlx::PgPool) -> Result<Offset, EventError> {
    let xmin: String = sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        .fetch_one(pool)
        .await?;
    let xmin: u64 = xmin
        .parse()
        .map_err(|_| EventError::Database(format!("unexpected xid8 text `{xmin}`")))?;
    Ok(Offset {
        xid: xmin.saturating_sub(1),
        position: i64::MAX,
    })
}
