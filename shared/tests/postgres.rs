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

/// Every PostgreSQL error a client's input or a busy database can cause is classified
/// once (`StoreError::from`) and never answered with a 500: data exceptions (class 22)
/// are 422 over HTTP and a permanent failure for an event; a statement timeout or a lock
/// that cannot be had is 503 with `Retry-After` (and a retry for an event).
#[tokio::test]
async fn database_errors_map_to_client_or_retry_answers_never_500() {
    use alpes_shared::{
        http::{ApiError, EventError},
        store::StoreError,
    };
    use axum::response::IntoResponse;

    let mut connection = PgConnection::connect(&database_url("alpes"))
        .await
        .expect("connect");
    let mut second = PgConnection::connect(&database_url("alpes"))
        .await
        .expect("connect");

    async fn failure(connection: &mut PgConnection, sql: &'static str) -> sqlx::Error {
        sqlx::query(sql).execute(connection).await.expect_err(sql)
    }

    // 22021: NUL in text; 22P05: NUL in jsonb; 22003: a number out of range.
    let nul_text = sqlx::query("SELECT $1::text")
        .bind("a\0b")
        .execute(&mut connection)
        .await
        .expect_err("NUL in text");
    let nul_jsonb = failure(&mut connection, r#"SELECT '"\u0000"'::jsonb"#).await;
    let out_of_range = failure(&mut connection, "SELECT 2147483647::int4 + 1").await;
    for error in [nul_text, nul_jsonb, out_of_range] {
        let code = error
            .as_database_error()
            .and_then(|db| db.code())
            .unwrap()
            .into_owned();
        assert!(code.starts_with("22"), "{code}");
        let store = StoreError::from(error);
        assert!(matches!(store, StoreError::InvalidData(_)), "{store:?}");
        let response = ApiError::from(store).into_response();
        assert_eq!(response.status(), 422, "{code}");
    }
    let store = StoreError::from(failure(&mut connection, "SELECT 1/0").await);
    assert!(matches!(EventError::from(store), EventError::Permanent(_)));

    // 57014: statement timeout.
    sqlx::query("SET statement_timeout = '50ms'")
        .execute(&mut connection)
        .await
        .unwrap();
    let timeout = failure(&mut connection, "SELECT pg_sleep(1)").await;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut connection)
        .await
        .unwrap();

    // 55P03: a lock not available (NOWAIT) while another session holds it.
    sqlx::query("BEGIN").execute(&mut second).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(4242)")
        .execute(&mut second)
        .await
        .unwrap();
    sqlx::query("SET lock_timeout = '50ms'")
        .execute(&mut connection)
        .await
        .unwrap();
    let lock = failure(&mut connection, "SELECT pg_advisory_xact_lock(4242)").await;
    sqlx::query("ROLLBACK").execute(&mut second).await.unwrap();

    for (expected, error) in [("57014", timeout), ("55P03", lock)] {
        let code = error
            .as_database_error()
            .and_then(|db| db.code())
            .unwrap()
            .into_owned();
        assert_eq!(code, expected);
        let store = StoreError::from(error);
        assert!(matches!(store, StoreError::Unavailable(_)), "{store:?}");
        let response = ApiError::from(store).into_response();
        assert_eq!(response.status(), 503, "{code}");
        assert!(response.headers().contains_key("retry-after"), "{code}");
    }
}
