//! Smoke test of the real PostgreSQL started by `scripts/postgres.sh`, through sqlx:
//! both context databases exist and answer parameterized queries.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

fn database_url(database: &str) -> String {
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://alpes:alpes@127.0.0.1:5432/alpes".to_owned());
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL ends with /<database>");
    format!("{server}/{database}")
}

#[tokio::test]
async fn both_context_databases_answer_queries() {
    for database in ["alpes", "reportes"] {
        let mut connection = tokio::time::timeout(
            Duration::from_secs(10),
            PgConnection::connect(&database_url(database)),
        )
        .await
        .expect("timed out connecting to PostgreSQL")
        .unwrap_or_else(|error| panic!("cannot connect to {database}: {error}"));

        let (name, sum): (String, i32) = sqlx::query_as("SELECT current_database()::text, $1 + $2")
            .bind(40_i32)
            .bind(2_i32)
            .fetch_one(&mut connection)
            .await
            .unwrap();
        assert_eq!((name.as_str(), sum), (database, 42));

        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        assert!(
            version.starts_with("15"),
            "expected PostgreSQL 15, got {version}"
        );
    }
}
