//! Applies the migrations of both contexts to the database at `DATABASE_URL` (the Cloud
//! Run migration job and `make migrate` run this). Safe to run again: applied migrations
//! are skipped, a changed one is refused. It waits up to `MIGRATE_CONNECT_TIMEOUT_SECS`
//! (default 180 s) for the database: a Cloud Run job's Direct VPC egress can take a minute
//! or more to carry traffic after the task starts.

use std::{str::FromStr, time::Duration};

use alpes_shared::store;
use sqlx::postgres::PgConnectOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("migrate");
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("DATABASE_URL: is required but not set"))?;
    let connect = PgConnectOptions::from_str(&url)
        .map_err(|error| anyhow::anyhow!("DATABASE_URL: not a PostgreSQL URL ({error})"))?;
    let wait = match std::env::var("MIGRATE_CONNECT_TIMEOUT_SECS") {
        Ok(raw) => raw.trim().parse::<u64>().map_err(|error| {
            anyhow::anyhow!("MIGRATE_CONNECT_TIMEOUT_SECS: cannot read {raw:?}: {error}")
        })?,
        Err(_) => 180,
    };
    store::migrate_waiting(
        &connect.options([("statement_timeout", "300s")]),
        Duration::from_secs(wait.max(1)),
    )
    .await?;
    tracing::info!(
        migrations = store::MIGRATOR.iter().count(),
        "database is up to date"
    );
    Ok(())
}
