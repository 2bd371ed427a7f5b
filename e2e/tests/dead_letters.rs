//! Dead letters (issue 13) with `BRIDGE_MAX_ATTEMPTS=2`: generate-report answers 503 (its
//! database refuses connections), so its events are dead-lettered and kept (durable
//! subscription `dlq`); `pulsar-bridge dlq list` lists them, `pulsar-bridge dlq replay`
//! completes their sagas exactly once by sending them to their route only (send-contract,
//! the other subscription of `eventos-campanas`, and a reader of the topic see no copy),
//! and a second replay does nothing.
//!
//! (A frozen function is not used here: when it resumes it handles the pushes that waited
//! in its socket, although the bridge had given up on them.)
//!
//! Slow tier: `cargo build --bins && cargo test -p e2e --test dead_letters`; the broker
//! restart is in the solo tier: `cargo test -p e2e --test dead_letters -- --ignored`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sqlx::{Connection, PgConnection};

const CAMPAIGNS: &str = "eventos-campanas/generate-report";
const CONTRACTS: &str = "eventos-contratos/generate-report";
const CAMPAIGNS_DLQ: &str = "eventos-campanas-generate-report-DLQ";
const CONTRACTS_DLQ: &str = "eventos-contratos-generate-report-DLQ";

/// The tests of this file count the same dead-letter topics' messages: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The bridge of this file's run: 2 attempts, short backoffs.
fn two_attempts() {
    let mut settings = BRIDGE_SETTINGS.lock().unwrap();
    settings.clear();
    settings.extend([
        ("BRIDGE_MAX_ATTEMPTS", "2".to_owned()),
        ("BRIDGE_MIN_BACKOFF_MS", "200".to_owned()),
        ("BRIDGE_MAX_BACKOFF_MS", "1000".to_owned()),
    ]);
}

/// Registers `count` influencers while generate-report answers 503, until their
/// campaign's and contract's events to generate-report are dead-lettered; then reopens its
/// database. Returns each influencer with its campaign id.
async fn dead_lettered_reports(
    env: &Env,
    client: &reqwest::Client,
    count: u64,
    name: &str,
) -> Vec<(Influencer, String)> {
    let before = (
        dead_letter_backlog(env, client, CAMPAIGNS_DLQ).await,
        dead_letter_backlog(env, client, CONTRACTS_DLQ).await,
    );
    let mut admin = PgConnection::connect(&env.admin_database_url)
        .await
        .unwrap_or_else(|error| env.fail(format!("connect: {error}")));
    reportes_connections(env, &mut admin, false).await;
    let mut sagas = Vec::new();
    for index in 0..count {
        let (influencer, _) =
            register_influencer(env, client, &format!("{name} {index} E2E")).await;
        let campaign = the_one_campaign_of(env, client, &influencer.id).await;
        let campaign_id = text(&campaign, "id").to_owned();
        the_one_contract_of(env, client, &influencer.id, &campaign_id).await;
        sagas.push((influencer, campaign_id));
    }
    eventually(env, "the report events dead-lettered", async || {
        let now = (
            dead_letter_backlog(env, client, CAMPAIGNS_DLQ).await,
            dead_letter_backlog(env, client, CONTRACTS_DLQ).await,
        );
        if now == (before.0 + count, before.1 + count) {
            Ok(())
        } else {
            Err(format!("{now:?} dead letters, before {before:?}"))
        }
    })
    .await;
    reportes_connections(env, &mut admin, true).await;
    let _ = admin.close().await;
    sagas
}

/// Runs `scripts/pulsar.sh <action>` (bounded by the script itself).
fn broker(env: &Env, action: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pulsar.sh");
    let status = std::process::Command::new(path)
        .arg(action)
        .status()
        .unwrap_or_else(|error| env.fail(format!("{path} {action}: {error}")));
    if !status.success() {
        env.fail(format!("{path} {action}: {status}"));
    }
}

/// Dead letters are kept by the durable `dlq` subscription across a broker restart, and
/// replayed after it.
#[tokio::test]
#[ignore = "restarts the shared broker; run alone: cargo test -p e2e --test dead_letters -- --ignored"]
async fn dead_letters_survive_a_broker_restart() {
    let _serial = SERIAL.lock().await;
    two_attempts();
    let started = Instant::now();
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let sagas = dead_lettered_reports(&env, &client, 2, "Reinicio Carta").await;
    broker(&env, "stop");
    broker(&env, "start");
    env.wait_ready().await;
    assert_eq!(
        dead_letter_backlog(&env, &client, CAMPAIGNS_DLQ).await,
        2,
        "the dead letters are still there"
    );
    assert_eq!(dead_letter_backlog(&env, &client, CONTRACTS_DLQ).await, 2);
    let listing = dlq_command(&env, &["list"]).await;
    for route in [CAMPAIGNS, CONTRACTS] {
        assert!(
            listing.lines().any(|line| line == format!("{route} 2")),
            "{listing}"
        );
    }
    let replayed = dlq_command(&env, &["replay"]).await;
    assert!(
        replayed.lines().any(|line| line == "replayed 4"),
        "{replayed}"
    );
    for (_, campaign_id) in &sagas {
        the_report_of(&env, &client, campaign_id, "completado", "cancelado").await;
    }
    wait_settled(&env, &client, &ROUTES).await;
    for (_, campaign_id) in &sagas {
        let reports = reports_of(&client, &env, campaign_id)
            .await
            .unwrap_or_else(|error| env.fail(error));
        assert_eq!(reports.len(), 1, "{reports:#?}");
    }
    eprintln!("test took {:?}", started.elapsed());
}

#[tokio::test]
async fn slow_dead_letters_are_kept_listed_and_replayed_to_their_route_only() {
    let _serial = SERIAL.lock().await;
    two_attempts();
    let started = Instant::now();
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    // A subscriber of the topic besides the bridge's two: it must see each event once, and
    // no replayed copy.
    let mut observer = env.subscribe("eventos-campanas").await;

    let sagas = dead_lettered_reports(&env, &client, 3, "Carta Muerta").await;
    let dead_lettered_at = Instant::now();
    if let Err(error) = observer
        .read_until(FLOW_TIMEOUT, |seen| seen.len() >= 3)
        .await
    {
        env.fail(error);
    }
    let event_ids: Vec<String> = observer
        .seen
        .iter()
        .map(|(_, properties, _)| properties["event_id"].clone())
        .collect();

    // The sagas stall until someone replays: no report, however long we wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (_, campaign_id) in &sagas {
        let reports = reports_of(&client, &env, campaign_id)
            .await
            .unwrap_or_else(|error| env.fail(error));
        assert!(reports.is_empty(), "{reports:#?}");
    }
    // One ERROR line per dead letter, with the event id, route, attempts and last error.
    let log = std::fs::read_to_string(env.log_dir.join("pulsar-bridge.log")).unwrap_or_default();
    for event_id in &event_ids {
        let line = log
            .lines()
            .find(|line| line.contains("message dead-lettered") && line.contains(event_id.as_str()))
            .unwrap_or_else(|| env.fail(format!("no dead-letter log line for {event_id}")));
        for expected in ["ERROR", CAMPAIGNS, "\"attempts\":2", "HTTP 503"] {
            assert!(line.contains(expected), "{expected} in {line}");
        }
    }
    // The bridge's metric follows the backlog (polled every 15 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let backlog = bridge_metric(
            &env,
            &client,
            "pulsar_bridge_dead_letter_backlog",
            CAMPAIGNS,
        )
        .await;
        if backlog == 3.0 {
            break;
        }
        if Instant::now() > deadline {
            env.fail(format!(
                "pulsar_bridge_dead_letter_backlog is {backlog}, expected 3"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // make dlq
    let listing = dlq_command(&env, &["list"]).await;
    eprintln!("dlq list:\n{listing}");
    for route in [CAMPAIGNS, CONTRACTS] {
        assert!(
            listing.lines().any(|line| line == format!("{route} 3")),
            "{listing}"
        );
    }
    for event_id in &event_ids {
        let line = listing
            .lines()
            .find(|line| line.contains(&format!("event_id={event_id} ")))
            .unwrap_or_else(|| env.fail(format!("{event_id} not listed:\n{listing}")));
        for expected in [
            "event_type=CampanaCreada",
            "attempts=2",
            "first_failure=20",
            "last_failure=20",
            "last_error=\"HTTP 503",
        ] {
            assert!(line.contains(expected), "{expected} in {line}");
        }
        assert!(!line.contains("correlation_id=- "), "{line}");
    }
    // Listing acknowledges nothing.
    assert_eq!(dead_letter_backlog(&env, &client, CAMPAIGNS_DLQ).await, 3);

    // make dlq-replay ROUTE=... EVENT_ID=...: that one only.
    let replay_started = Instant::now();
    let one = dlq_command(
        &env,
        &["replay", "--route", CAMPAIGNS, "--event-id", &event_ids[0]],
    )
    .await;
    assert!(one.lines().any(|line| line == "replayed 1"), "{one}");
    assert_eq!(dead_letter_backlog(&env, &client, CAMPAIGNS_DLQ).await, 2);
    assert_eq!(dead_letter_backlog(&env, &client, CONTRACTS_DLQ).await, 3);
    // make dlq-replay: the rest, both routes.
    let rest = dlq_command(&env, &["replay"]).await;
    assert!(rest.lines().any(|line| line == "replayed 5"), "{rest}");
    assert_eq!(dead_letter_backlog(&env, &client, CAMPAIGNS_DLQ).await, 0);
    assert_eq!(dead_letter_backlog(&env, &client, CONTRACTS_DLQ).await, 0);
    for (influencer, campaign_id) in &sagas {
        let report = the_report_of(&env, &client, campaign_id, "completado", "cancelado").await;
        assert_eq!(
            report["id_influencer"],
            influencer.id.as_str(),
            "{report:#}"
        );
    }
    eprintln!(
        "sagas completed {:?} after the first replay ({:?} after the dead letters)",
        replay_started.elapsed(),
        dead_lettered_at.elapsed()
    );
    // A second replay finds nothing.
    let again = dlq_command(&env, &["replay"]).await;
    assert!(again.lines().any(|line| line == "replayed 0"), "{again}");
    let listing = dlq_command(&env, &["list"]).await;
    assert!(
        listing.lines().any(|line| line == "no dead letters"),
        "{listing}"
    );

    wait_settled(&env, &client, &ROUTES).await;
    // Exactly once: one report (two report events would show as a second report row or a
    // wrong state), one contract (send-contract got no copy of the replayed events); and
    // the topic's other subscriber got no copy.
    for (influencer, campaign_id) in &sagas {
        let reports = reports_of(&client, &env, campaign_id)
            .await
            .unwrap_or_else(|error| env.fail(error));
        assert_eq!(reports.len(), 1, "{reports:#?}");
        let contracts = contracts_of(&client, &env, &influencer.id, None)
            .await
            .unwrap_or_else(|error| env.fail(error));
        assert_eq!(contracts.len(), 1, "{contracts:#?}");
    }
    assert_eq!(
        bridge_metric(
            &env,
            &client,
            "pulsar_bridge_delivered_total",
            "eventos-campanas/send-contract"
        )
        .await,
        3.0,
        "send-contract got each CampanaCreada once"
    );
    let _ = observer.read_until(Duration::from_secs(3), |_| false).await;
    assert_eq!(
        observer.seen.len(),
        3,
        "the replays reached only their route"
    );
    observer.close().await;
    eprintln!("test took {:?}", started.elapsed());
}
