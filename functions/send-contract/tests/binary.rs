//! The built binary: starts with only its environment, serves `/health` and `/ready`,
//! stops on SIGTERM, and refuses to start without its database.

use alpes_shared::testing::{RunningBinary, database_url_for};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn starts_with_its_environment_is_ready_and_stops(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let database_url = database_url_for(&connect);
    let running = RunningBinary::start(
        env!("CARGO_BIN_EXE_send-contract"),
        &[
            ("DATABASE_URL", database_url.as_str()),
            ("PUSH_AUTH", "static"),
            ("PUSH_TOKEN", "t"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{}/ready", running.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    let contracts = client
        .get(format!("{}/contratos", running.base_url))
        .header("x-request-id", "req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(contracts.status(), 200);
    assert_eq!(contracts.headers()["x-request-id"], "req-1");

    let status = running.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn refuses_to_start_without_its_database_url() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_send-contract"))
        .env_clear()
        .env("PUSH_AUTH", "none")
        .env("PUSH_AUTH_ALLOW_NONE", "true")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}
