//! The transactional outbox: an event is written in the same transaction as the state
//! change it announces, published after commit, and swept by the relay until the broker
//! has taken it.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, types::Json};
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
    /// properties.
    pub fn new(event: &IntegrationEvent, metadata: &EventMetadata) -> Result<Self, EncodeError> {
        Ok(Self {
            event_id: metadata.event_id,
            topic: event.topic().name().to_owned(),
            message_key: event
                .key()
                .map_or_else(|| metadata.correlation_id.clone(), str::to_owned),
            event_type: metadata.event_type.clone(),
            payload: event.encode()?,
            properties: metadata.to_properties(),
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

/// Adds `message` to the outbox, in the caller's transaction.
pub async fn enqueue(tx: &mut PgConnection, message: &OutboxMessage) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, message_key, event_type, payload, properties)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(message.event_id)
    .bind(&message.topic)
    .bind(&message.message_key)
    .bind(&message.event_type)
    .bind(&message.payload)
    .bind(Json(&message.properties))
    .execute(tx)
    .await?;
    Ok(())
}

/// Locks up to `limit` unpublished messages that are due, oldest first, skipping rows
/// another publisher holds (`FOR UPDATE SKIP LOCKED`): any number of function instances
/// and relays can sweep concurrently without publishing a row twice at the same time.
/// The locks last until the caller's transaction ends; publish, then `mark_published` or
/// `mark_failed` in that same transaction.
pub async fn claim_due(
    tx: &mut PgConnection,
    limit: i64,
) -> Result<Vec<PendingMessage>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_id, topic, message_key, event_type, payload, properties, created_at, attempts
         FROM outbox
         WHERE published_at IS NULL AND available_at <= clock_timestamp()
         ORDER BY created_at, event_id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(PendingMessage::from).collect())
}

/// Locks the given messages if they are still unpublished and nobody else holds them:
/// what a function publishes right after its own commit.
pub async fn claim_ids(
    tx: &mut PgConnection,
    event_ids: &[Uuid],
) -> Result<Vec<PendingMessage>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_id, topic, message_key, event_type, payload, properties, created_at, attempts
         FROM outbox
         WHERE event_id = ANY($1) AND published_at IS NULL
         ORDER BY created_at, event_id
         FOR UPDATE SKIP LOCKED",
    )
    .bind(event_ids)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(PendingMessage::from).collect())
}

pub async fn mark_published(tx: &mut PgConnection, event_ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL
         WHERE event_id = ANY($1)",
    )
    .bind(event_ids)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a failed publish; the message is due again after `retry_in`.
pub async fn mark_failed(
    tx: &mut PgConnection,
    event_id: Uuid,
    error: &str,
    retry_in: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox
         SET attempts = attempts + 1, last_error = $2,
             available_at = clock_timestamp() + make_interval(secs => $3)
         WHERE event_id = $1",
    )
    .bind(event_id)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .execute(tx)
    .await?;
    Ok(())
}

/// How many messages still wait to be published (for `/metrics` and tests).
pub async fn pending_count(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(conn)
            .await?,
    )
}
