//! The built binary: starts with only its environment, serves `/health` and `/ready`,
//! and on SIGTERM finishes the request in flight before exiting.

use std::time::Duration;

use alpes_shared::testing::{RunningBinary, database_url_for};
use sqlx::{
    Connection, PgConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
};

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_request_in_flight_completes_after_sigterm(_: PgPoolOptions, connect: PgConnectOptions) {
    let database_url = database_url_for(&connect);
    let running = RunningBinary::start(
        env!("CARGO_BIN_EXE_register-influencer"),
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

    // Hold the table so the registration waits inside the server.
    let mut blocker = PgConnection::connect(&database_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE alpes.influencers IN EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let url = format!("{}/influencers", running.base_url);
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .json(&serde_json::json!({
                "nombre": "Ana", "email": "ana@example.com", "categorias": ["moda"]
            }))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!in_flight.is_finished(), "the request waits on the lock");

    let exit = tokio::spawn(running.terminate());
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 201);
    let status = exit.await.unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn refuses_to_start_without_its_database_url() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_register-influencer"))
        .env_clear()
        .env("PUSH_AUTH", "none")
        .env("PUSH_AUTH_ALLOW_NONE", "true")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

/// Push authentication fails closed: OIDC without the accounts allowed to push, or no
/// authentication without the explicit opt-in, stops the start naming the variable; the
/// opt-in starts with a warning.
#[tokio::test]
async fn refuses_to_start_with_push_auth_that_fails_open() {
    let start = |pairs: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_register-influencer"))
            .env_clear()
            .env("DATABASE_URL", "postgres://alpes:alpes@127.0.0.1:9/alpes")
            .envs(pairs.iter().copied())
            .output()
            .unwrap()
    };
    for (pairs, variable) in [
        (
            &[
                ("PUSH_AUTH", "oidc"),
                ("PUSH_AUDIENCE", "https://register-influencer.a.run.app"),
            ][..],
            "PUSH_SERVICE_ACCOUNTS",
        ),
        (&[("PUSH_AUTH", "none")][..], "PUSH_AUTH_ALLOW_NONE"),
        (
            &[("PUSH_AUTH", "none"), ("PUSH_AUTH_ALLOW_NONE", "1")][..],
            "PUSH_AUTH_ALLOW_NONE",
        ),
    ] {
        let output = start(pairs);
        assert!(!output.status.success(), "{pairs:?} must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{pairs:?}: {stderr}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_register-influencer"))
        .env_clear()
        .env("DATABASE_URL", "postgres://alpes:alpes@127.0.0.1:9/alpes")
        .env("PORT", port.to_string())
        .env("PUSH_AUTH", "none")
        .env("PUSH_AUTH_ALLOW_NONE", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        let answer = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if matches!(&answer, Ok(response) if response.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(up, "PUSH_AUTH=none with the opt-in starts: {logs}");
    assert!(
        logs.contains("WARN") && logs.contains("PUSH_AUTH=none"),
        "a warning at start: {logs}"
    );
}
