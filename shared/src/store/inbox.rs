//! The inbox: which events each consumer has already processed.

use sqlx::PgConnection;

use super::StoreError;

/// Records, inside the consumer's own transaction, that `consumer` processed `event_id`.
/// Returns `false` when it already had: the caller then skips its effects, so a
/// redelivered event has no second effect. A concurrent duplicate waits for the first
/// transaction and then sees it.
pub async fn record(
    tx: &mut PgConnection,
    consumer: &str,
    event_id: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
         ON CONFLICT (consumer, event_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Deletes up to `batch` inbox records older than `age`, oldest first; returns how many.
/// The age must outlast every redelivery of an event (dead-letter replay included), or a
/// late copy would be applied a second time.
pub async fn prune(
    pool: &sqlx::PgPool,
    age: std::time::Duration,
    batch: i64,
) -> Result<u64, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM processed_events WHERE (consumer, event_id) IN (
             SELECT consumer, event_id FROM processed_events
             WHERE processed_at < clock_timestamp() - make_interval(secs => $1)
             ORDER BY processed_at
             LIMIT $2)",
    )
    .bind(age.as_secs_f64())
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}
