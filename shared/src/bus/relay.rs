//! The outbox relay: publishes committed outbox rows until the broker has taken them.
//!
//! A function publishes its own rows right after its transaction commits
//! ([`publish_committed`]); whatever that misses (broker down, instance gone) is swept by
//! [`sweep`], which any number of instances may run concurrently.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::Publisher;
use crate::store::{
    StoreError,
    outbox::{self, PendingMessage},
};

/// Delay before retrying a message that failed `attempts` times: 1 s doubling, at most 60 s.
pub fn retry_delay(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    Duration::from_secs(2_u64.pow(exponent)).min(Duration::from_secs(60))
}

/// What one pass published.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    pub published: usize,
    pub failed: usize,
}

async fn publish_claimed(
    tx: &mut sqlx::PgConnection,
    publisher: &impl Publisher,
    claimed: Vec<PendingMessage>,
) -> Result<RelayOutcome, StoreError> {
    let mut outcome = RelayOutcome::default();
    let mut published = Vec::with_capacity(claimed.len());
    for pending in claimed {
        match publisher.publish(&pending.message).await {
            Ok(()) => published.push(pending.message.event_id),
            Err(error) => {
                tracing::warn!(event_id = %pending.message.event_id, topic = %pending.message.topic,
                    attempts = pending.attempts + 1, %error, "publish failed, will retry");
                outbox::mark_failed(
                    tx,
                    pending.message.event_id,
                    &error.to_string(),
                    retry_delay(pending.attempts),
                )
                .await?;
                outcome.failed += 1;
            }
        }
    }
    outbox::mark_published(tx, &published).await?;
    outcome.published = published.len();
    Ok(outcome)
}

/// Publishes the given freshly committed rows, unless a sweeper already holds them.
pub async fn publish_committed(
    pool: &PgPool,
    publisher: &impl Publisher,
    event_ids: &[Uuid],
) -> Result<RelayOutcome, StoreError> {
    if event_ids.is_empty() {
        return Ok(RelayOutcome::default());
    }
    let mut tx = pool.begin().await?;
    let claimed = outbox::claim_ids(&mut tx, event_ids).await?;
    let outcome = publish_claimed(&mut tx, publisher, claimed).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// One sweep: publishes up to `batch` due rows, oldest first.
pub async fn sweep(
    pool: &PgPool,
    publisher: &impl Publisher,
    batch: i64,
) -> Result<RelayOutcome, StoreError> {
    let mut tx = pool.begin().await?;
    let claimed = outbox::claim_due(&mut tx, batch).await?;
    let outcome = publish_claimed(&mut tx, publisher, claimed).await?;
    tx.commit().await?;
    Ok(outcome)
}
