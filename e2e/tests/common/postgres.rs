//! The PostgreSQL side: the run's two databases (their names, URLs, creation and
//! migration), connections for assertions, and closing a database to fake an outage.

use std::str::FromStr;

use alpes_shared::store;
use sqlx::{AssertSqlSafe, Connection, PgConnection, postgres::PgConnectOptions};

use super::{Database, Env};

impl Env {
    pub fn database_name(&self, database: Database) -> &str {
        match database {
            Database::Alpes => &self.alpes_database,
            Database::Reportes => &self.reportes_database,
        }
    }

    pub fn database_url(&self, database: Database) -> String {
        format!(
            "{}/{}{}",
            self.server,
            self.database_name(database),
            self.url_query
        )
    }

    pub async fn create_databases(&mut self) {
        let mut admin = PgConnection::connect(&self.admin_database_url)
            .await
            .unwrap_or_else(|error| {
                self.fail(format!(
                    "cannot connect to {} (is PostgreSQL running? `make services`): {error}",
                    self.admin_database_url
                ))
            });
        for database in [Database::Alpes, Database::Reportes] {
            let name = self.database_name(database).to_owned();
            sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|error| self.fail(format!("CREATE DATABASE {name}: {error}")));
            self.created_databases.push(name.clone());
            let connect = PgConnectOptions::from_str(&self.database_url(database))
                .unwrap_or_else(|error| self.fail(format!("the URL of {name}: {error}")));
            store::migrate(&connect)
                .await
                .unwrap_or_else(|error| self.fail(format!("migrating {name}: {error}")));
        }
        let _ = admin.close().await;
    }

    /// A connection to the run's `database`, for assertions on what the functions stored.
    pub async fn connect(&self, database: Database) -> PgConnection {
        let url = self.database_url(database);
        PgConnection::connect(&url)
            .await
            .unwrap_or_else(|error| self.fail(format!("connect to {url}: {error}")))
    }
}

/// Closes (`allow = false`: refuses connections and ends the sessions) or reopens the run's
/// reportes database, so generate-report and compensate-report answer 503.
pub async fn reportes_connections(env: &Env, admin: &mut PgConnection, allow: bool) {
    let reportes = env.database_name(Database::Reportes).to_owned();
    sqlx::query(AssertSqlSafe(format!(
        r#"ALTER DATABASE "{reportes}" WITH ALLOW_CONNECTIONS {allow}"#
    )))
    .execute(&mut *admin)
    .await
    .unwrap_or_else(|error| env.fail(format!("ALTER DATABASE {reportes}: {error}")));
    if !allow {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&reportes)
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|error| env.fail(format!("terminate the sessions: {error}")));
    }
}
