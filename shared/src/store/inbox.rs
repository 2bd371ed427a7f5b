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
