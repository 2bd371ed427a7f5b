//! The built binary: configured from the environment, serves `/health`, `/ready` and
//! `/metrics` on `$PORT`, pushes, survives a SIGKILL without losing messages, and exits
//! cleanly on SIGTERM.

mod support;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alpes_shared::testing::RunningBinary;
use support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_pulsar-bridge");
const LONG: Duration = Duration::from_secs(30);
/// The children log to the test's stdout: warnings and errors only.
const QUIET: &str = "warn,pulsar=error";

fn routes_json(topic: &str, url: &str) -> String {
    serde_json::json!([{
        "topic": topic,
        "subscription": "generate-report",
        "url": url,
        "concurrency": 3,
        "backoff_initial_ms": 100,
        "backoff_max_ms": 400,
    }])
    .to_string()
}

async fn wait_ready(base_url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = http
            .get(format!("{base_url}/ready"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map(|response| response.status());
        if matches!(status, Ok(status) if status == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready within 60 s: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_ready_metrics_pushes_and_stops_on_sigterm() {
    let target = Target::start(|_, _| Reply::status(200)).await;
    let topic = unique_topic("binary");
    let routes = routes_json(&topic, &target.events_url());
    let running = RunningBinary::start(
        BINARY,
        &[
            ("PULSAR_URL", &pulsar_url()),
            ("BRIDGE_ROUTES", &routes),
            ("PUSH_AUTH", "none"),
            ("RUST_LOG", QUIET),
        ],
    )
    .await;
    wait_ready(&running.base_url).await;
    let pulsar = client().await;
    TestProducer::new(&pulsar, &topic)
        .await
        .send(Outgoing::text("hello"))
        .await;
    target
        .wait_for(LONG, "the push", |requests| !requests.is_empty())
        .await;
    let request = &target.requests()[0];
    assert!(
        request.headers.get("authorization").is_none(),
        "PUSH_AUTH=none sends no token"
    );
    assert_eq!(request.body["subscription"], "generate-report");
    wait_acknowledged(&topic, "generate-report", LONG).await;
    let metrics = reqwest::get(format!("{}/metrics", running.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let name = format!("{}/generate-report", topic.rsplit('/').next().unwrap());
    assert_eq!(
        metric(&metrics, "pulsar_bridge_delivered_total", &name),
        1.0
    );
    let status = running.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_a_required_variable_and_names_it() {
    let mut child = Command::new(BINARY)
        .env_remove("PULSAR_URL")
        .env_remove("PULSAR_ADDRESS")
        .env("GENERATE_REPORT_URL", "http://127.0.0.1:9")
        .env("PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary kept running without PULSAR_URL");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("PULSAR_URL"), "stderr: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_delivery_and_restarted_loses_nothing() {
    let target = Target::start(|_, _| Reply::status(200).after(Duration::from_millis(100))).await;
    let topic = unique_topic("binary-kill");
    let routes = routes_json(&topic, &target.events_url());
    let env = [
        ("PULSAR_URL", pulsar_url()),
        ("BRIDGE_ROUTES", routes),
        ("PUSH_AUTH", "static".to_owned()),
        ("PUSH_TOKEN", "local-token".to_owned()),
        ("RUST_LOG", QUIET.to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = RunningBinary::start(BINARY, &env).await;
    wait_ready(&first.base_url).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    for n in 0..30 {
        producer.send(Outgoing::text(&format!("m{n}"))).await;
    }
    target
        .wait_for(LONG, "some pushes", |requests| requests.len() >= 6)
        .await;
    drop(first); // SIGKILL
    let delivered = target.delivered().len();
    assert!(
        delivered < 30,
        "killed before the end ({delivered} delivered)"
    );

    let second = RunningBinary::start(BINARY, &env).await;
    wait_until(LONG, "all 30 messages delivered", || {
        target.delivered().len() == 30
    })
    .await;
    wait_acknowledged(&topic, "generate-report", LONG).await;
    assert!(
        target
            .requests()
            .iter()
            .all(|request| request.headers["authorization"] == "Bearer local-token")
    );
    let status = second.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
