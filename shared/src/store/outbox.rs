//! The transactional outbox: an event is written in the same transaction as the state
//! change it announces, published after commit (outside any transaction), and swept by
//! the relay until the broker has taken it. `available_at` is both the retry time and a
//! lease: a row being published by someone is not due.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use super::StoreError;
use crate::events::{EncodeError, EventMetadata, IntegrationEvent};

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub event_id: Uuid,
    /// Short topic name, e.g. `eventos-campanas`.
    pub topic: String,
    /// The aggregate id: the message key.
    pub message_key: String,
    pub event_type: String,
    /// Avro binary, as it goes on the wire.
    pub payload: Vec<u8>,
    /// Message properties / attributes (`event_id`, `event_type`, `correlation_id`, ...).
    pub properties: BTreeMap<String, String>,
}

impl OutboxMessage {
    /// The outbox row announcing `event`: Avro payload, aggregate id as key, metadata as
    /// properties, plus the trace context of the current span (the request or event
    /// writing it), so the event's publish and consumers continue that trace.
    pub fn new(event: &IntegrationEvent, metadata: &EventMetadata) -> Result<Self, EncodeError> {
        let mut properties = metadata.to_properties();
        crate::trace_context::inject(&tracing::Span::current(), &mut properties);
        Ok(Self {
            event_id: metadata.event_id,
            topic: event.topic().name().to_owned(),
            message_key: event
                .key()
                .map_or_else(|| metadata.correlation_id.clone(), str::to_owned),
            event_type: metadata.event_type.clone(),
            payload: event.encode()?,
            properties,
        })
    }
}

/// A row claimed for publishing, with its delivery history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    pub message: OutboxMessage,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
}

#[derive(sqlx::FromRow)]
struct Row {
    event_id: Uuid,
    topic: String,
    message_key: String,
    event_type: String,
    payload: Vec<u8>,
    properties: Json<BTreeMap<String, String>>,
    created_at: DateTime<Utc>,
    attempts: i32,
}

impl From<Row> for PendingMessage {
    fn from(row: Row) -> Self {
        Self {
            message: OutboxMessage {
                event_id: row.event_id,
                topic: row.topic,
                message_key: row.message_key,
                event_type: row.event_type,
                payload: row.payload,
                properties: row.properties.0,
            },
            created_at: row.created_at,
            attempts: row.attempts,
        }
    }
}

/// A row written in the caller's transaction, to publish once it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    pub message: OutboxMessage,
    /// Whether the row is leased to the writer, who publishes it after commit. Not when
    /// an earlier row of the same topic and key was still unpublished (this one must not
    /// overtake it) or no lease was asked for: the row is then the relay's, due at once.
    pub leased: bool,
}

/// Adds `message` to the outbox, in the caller's transaction, leased for `inline_lease`
/// to the caller (who publishes it after commit): the relay leaves it alone until the
/// lease ends. When an earlier row of the same topic and key, written by another
/// transaction, is still unpublished, the row is due at once and not leased: the relay
/// publishes it after its predecessor. Rows of one transaction (a report's creation and
/// compensation) are all the writer's, published in order. One statement.
pub async fn enqueue(
    tx: &mut PgConnection,
    message: OutboxMessage,
    inline_lease: Duration,
) -> Result<Enqueued, StoreError> {
    let leased: bool = sqlx::query_scalar(
        "WITH now AS (SELECT clock_timestamp() AS t),
              earlier AS (SELECT EXISTS (
                  SELECT 1 FROM outbox WHERE topic = $2 AND message_key = $3 AND published_at IS NULL
                    AND xmin <> pg_current_xact_id()::xid
              ) AS held)
         INSERT INTO outbox (event_id, topic, message_key, event_type, payload, properties,
                             created_at, available_at)
         SELECT $1, $2, $3, $4, $5, $6, now.t,
                CASE WHEN earlier.held THEN now.t ELSE now.t + make_interval(secs => $7) END
         FROM now, earlier
         RETURNING available_at > created_at",
    )
    .bind(message.event_id)
    .bind(&message.topic)
    .bind(&message.message_key)
    .bind(&message.event_type)
    .bind(&message.payload)
    .bind(Json(&message.properties))
    .bind(inline_lease.as_secs_f64())
    .fetch_one(tx)
    .await?;
    Ok(Enqueued { message, leased })
}

/// Claims up to `limit` due rows for `lease`, oldest first, and commits the claim before
/// returning: the caller publishes outside any transaction and holds no connection or row
/// lock while the broker answers. A row is skipped while an earlier unpublished row of
/// its topic and key is not due (failed and waiting, or leased to another publisher), so
/// per-key order holds across publishers. Claims of one outbox are serialized by an
/// advisory lock held for the claim only (milliseconds): two relays never take rows of
/// one key at the same time. A publisher that dies leaves rows that are due again when
/// their lease ends.
pub async fn claim_due(
    pool: &PgPool,
    limit: i64,
    lease: Duration,
) -> Result<Vec<PendingMessage>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('alpes-outbox-claim:' || current_schema()))",
    )
    .execute(&mut *tx)
    .await?;
    let mut rows: Vec<Row> = sqlx::query_as(
        "WITH due AS (
             SELECT o.event_id FROM outbox o
             WHERE o.published_at IS NULL AND o.available_at <= clock_timestamp()
               AND NOT EXISTS (
                   SELECT 1 FROM outbox e
                   WHERE e.published_at IS NULL AND e.topic = o.topic
                     AND e.message_key = o.message_key
                     AND (e.created_at, e.event_id) < (o.created_at, o.event_id)
                     AND e.available_at > clock_timestamp())
             ORDER BY o.created_at, o.event_id
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
         UPDATE outbox SET available_at = clock_timestamp() + make_interval(secs => $2)
         FROM due WHERE outbox.event_id = due.event_id
         RETURNING outbox.event_id, topic, message_key, event_type, payload, properties,
                   created_at, attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.sort_by_key(|row| (row.created_at, row.event_id));
    Ok(rows.into_iter().map(PendingMessage::from).collect())
}

/// Marks the given rows published: one statement for any number of rows.
pub async fn mark_published(pool: &PgPool, event_ids: &[Uuid]) -> Result<u64, StoreError> {
    if event_ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL
         WHERE event_id = ANY($1) AND published_at IS NULL",
    )
    .bind(event_ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Ends the lease of rows their publisher gave up on (not tried, or left behind a failed
/// one): they are due at once, without counting an attempt. One statement.
pub async fn release(pool: &PgPool, event_ids: &[Uuid]) -> Result<(), StoreError> {
    if event_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE outbox SET available_at = clock_timestamp()
         WHERE event_id = ANY($1) AND published_at IS NULL",
    )
    .bind(event_ids)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed publish; the message is due again after `retry_in` (and holds back
/// later rows of its key until then).
pub async fn mark_failed(
    pool: &PgPool,
    event_id: Uuid,
    error: &str,
    retry_in: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox
         SET attempts = attempts + 1, last_error = $2,
             available_at = clock_timestamp() + make_interval(secs => $3)
         WHERE event_id = $1 AND published_at IS NULL",
    )
    .bind(event_id)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes up to `batch` published rows older than `age`, oldest first; returns how many.
pub async fn prune_published(pool: &PgPool, age: Duration, batch: i64) -> Result<u64, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM outbox WHERE event_id IN (
             SELECT event_id FROM outbox
             WHERE published_at IS NOT NULL
               AND published_at < clock_timestamp() - make_interval(secs => $1)
             ORDER BY published_at
             LIMIT $2)",
    )
    .bind(age.as_secs_f64())
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// The unpublished part of the outbox, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    /// Rows not published yet.
    pub rows: i64,
    /// Age of the oldest of them (zero when none).
    pub oldest_age: Duration,
}

/// Reads [`Backlog`] in one statement over the pending rows' partial index, which the
/// server cancels after `timeout` (a statement timeout local to its own short
/// transaction).
pub async fn backlog(pool: &PgPool, timeout: Duration) -> Result<Backlog, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('statement_timeout', $1, true)")
        .bind(format!("{}ms", timeout.as_millis().max(1)))
        .execute(&mut *tx)
        .await?;
    let (rows, oldest): (i64, f64) = sqlx::query_as(
        "SELECT count(*), \
                COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0)::float8 \
         FROM outbox WHERE published_at IS NULL",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Backlog {
        rows,
        oldest_age: Duration::try_from_secs_f64(oldest.max(0.0)).unwrap_or_default(),
    })
}

/// How many messages still wait to be published (for `/metrics` and tests).
pub async fn pending_count(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(conn)
            .await?,
    )
}
