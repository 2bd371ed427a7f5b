//! The built binary: starts with only its environment, serves `/health` and `/ready`,
//! and on SIGTERM finishes the request in flight before exiting.

use std::time::Duration;

use alpes_shared::{
    domain::{CampaignReportInput, ExternalId, Report},
    store::{self, Context, DatabaseSettings, reports},
    testing::{RunningBinary, database_url_for},
};
use sqlx::{
    Connection, PgConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use uuid::Uuid;

async fn seed_report(connect: &PgConnectOptions) -> Uuid {
    let pool = store::pool(&DatabaseSettings::new(connect.clone()), Context::Reportes);
    let report = Report::for_campaign(
        CampaignReportInput {
            campaign_id: ExternalId::parse("camp-1").unwrap(),
            campaign_name: Some("Verano".into()),
            influencer_id: None,
            source_data: serde_json::json!({}),
        },
        Uuid::now_v7(),
        None,
        chrono::Utc::now(),
    );
    let mut tx = pool.begin().await.unwrap();
    reports::insert(&mut tx, &report).await.unwrap();
    tx.commit().await.unwrap();
    pool.close().await;
    report.id()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_request_in_flight_completes_after_sigterm(_: PgPoolOptions, connect: PgConnectOptions) {
    let report_id = seed_report(&connect).await;
    let database_url = database_url_for(&connect);
    let running = RunningBinary::start(
        env!("CARGO_BIN_EXE_compensate-report"),
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

    // Hold the table so the compensation waits inside the server.
    let mut blocker = PgConnection::connect(&database_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE reportes.reports IN EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let url = format!("{}/reportes/{report_id}/compensar", running.base_url);
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .json(&serde_json::json!({"motivo": "fraude"}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!in_flight.is_finished(), "the request waits on the lock");

    let exit = tokio::spawn(running.terminate());
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let response = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("answered within 10 s")
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["estado"], "cancelado");
    let status = exit.await.unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn refuses_to_start_without_its_database_url() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_compensate-report"))
        .env_clear()
        .env("PUSH_AUTH", "none")
        .env("PUSH_AUTH_ALLOW_NONE", "true")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}
