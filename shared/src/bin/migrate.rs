//! Applies the migrations of both contexts to the database at `DATABASE_URL` (the Cloud
//! Run migration job and `make migrate` run this). Safe to run again: applied migrations
//! are skipped, a changed one is refused.

use std::str::FromStr;

use alpes_shared::store;
use sqlx::postgres::PgConnectOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("migrate");
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("DATABASE_URL: is required but not set"))?;
    let connect = PgConnectOptions::from_str(&url)
        .map_err(|error| anyhow::anyhow!("DATABASE_URL: not a PostgreSQL URL ({error})"))?;
    store::migrate(&connect.options([("statement_timeout", "300s")])).await?;
    tracing::info!(
        migrations = store::MIGRATOR.iter().count(),
        "database is up to date"
    );
    Ok(())
}
