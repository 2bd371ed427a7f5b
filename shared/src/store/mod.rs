//! PostgreSQL: pools per bounded context, repositories, the transactional outbox and the
//! inbox of processed events. Plain parameterized SQL; no string-built statements.
//!
//! Each context's tables live in their own schema (`alpes`, `reportes`). A pool is opened
//! for one context and sets `search_path` to its schema, so the same statements work
//! whether the contexts share one database or each has its own.

pub mod campaigns;
pub mod contracts;
mod error;
pub mod idempotency;
pub mod inbox;
pub mod influencers;
pub mod outbox;
mod page;
pub mod reports;
mod rows;

use std::time::Duration;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

pub use error::{Constraint, StoreError};
pub use page::Page;

/// Every migration of both contexts, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A bounded context, owning one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Influencers, campaigns, contracts.
    Alpes,
    /// Reports and pending compensations.
    Reportes,
}

impl Context {
    pub fn schema(self) -> &'static str {
        match self {
            Self::Alpes => "alpes",
            Self::Reportes => "reportes",
        }
    }
}

/// How a function reaches its database. Its `Debug` leaves the password out.
#[derive(Clone)]
pub struct DatabaseSettings {
    pub connect: PgConnectOptions,
    pub max_connections: u32,
    /// How long a request waits for a free connection before the database counts as down.
    pub acquire_timeout: Duration,
    /// The server cancels any statement running longer than this.
    pub statement_timeout: Duration,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("host", &self.connect.get_host())
            .field("port", &self.connect.get_port())
            .field("database", &self.connect.get_database())
            .field("username", &self.connect.get_username())
            .field("password", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl DatabaseSettings {
    pub fn new(connect: PgConnectOptions) -> Self {
        Self {
            connect,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool for `context` that connects on first use: a cold start does no I/O, and
/// `/ready` reports whether the database answers.
pub fn pool(settings: &DatabaseSettings, context: Context) -> PgPool {
    let statement_timeout = format!("{}ms", settings.statement_timeout.as_millis());
    let connect = settings.connect.clone().options([
        ("search_path", context.schema()),
        ("statement_timeout", statement_timeout.as_str()),
    ]);
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(connect)
}

/// Applies every pending migration (both contexts' schemas) to the database `connect`
/// points at. It uses its own connection with `search_path` pinned to `public`, where
/// the migrations' bookkeeping table lives: a context pool's schema may not exist yet,
/// and the default `"$user", public` would move the bookkeeping into the `alpes` schema
/// once it exists if the database user is called `alpes`.
pub async fn migrate(connect: &PgConnectOptions) -> Result<(), StoreError> {
    migrate_waiting(connect, Duration::from_secs(30)).await
}

/// [`migrate`], waiting up to `connect_wait` for the database to accept a connection (a
/// Cloud Run job's Direct VPC egress may take a minute or more to come up).
pub async fn migrate_waiting(
    connect: &PgConnectOptions,
    connect_wait: Duration,
) -> Result<(), StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(connect_wait)
        .connect_with(connect.clone().options([("search_path", "public")]))
        .await?;
    let applied = MIGRATOR
        .run(&pool)
        .await
        .map_err(|error| StoreError::Migration(error.to_string()));
    pool.close().await;
    applied
}

/// `SELECT 1`: whether the database answers, for `/ready`.
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
