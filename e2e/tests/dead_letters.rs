//! Dead letters (issue 13) with `BRIDGE_MAX_ATTEMPTS=2`: messages a frozen function cannot
//! take are dead-lettered and kept (durable subscription `dlq`), `pulsar-bridge dlq list`
//! lists them, `pulsar-bridge dlq replay` completes their sagas exactly once by sending them
//! to their route only (the topic's other subscriptions see no copy), and a second replay
//! does nothing.
//!
//! Slow tier: `cargo build --bins && cargo test -p e2e --test dead_letters`.

mod common;

use std::time::{Duration, Instant};

use common::*;

const ROUTE: &str = "eventos-influencers/create-campaign";
const DEAD_LETTERS: &str = "eventos-influencers-create-campaign-DLQ";

/// The tests of this file count the same dead-letter topic's messages: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The bridge of this file's run: 2 attempts, short backoffs and push timeout.
fn two_attempts() {
    let mut settings = BRIDGE_SETTINGS.lock().unwrap();
    settings.clear();
    settings.extend([
        ("BRIDGE_MAX_ATTEMPTS", "2".to_owned()),
        ("BRIDGE_MIN_BACKOFF_MS", "200".to_owned()),
        ("BRIDGE_MAX_BACKOFF_MS", "1000".to_owned()),
        ("BRIDGE_PUSH_TIMEOUT_MS", "3000".to_owned()),
    ]);
}

/// Registers `count` influencers while create-campaign is frozen, until their events are
/// dead-lettered.
async fn dead_lettered_registrations(
    env: &Env,
    client: &reqwest::Client,
    count: u64,
    name: &str,
) -> Vec<Influencer> {
    let before = dead_letter_backlog(env, client, DEAD_LETTERS).await;
    let mut frozen = Frozen::new(env, CREATE_CAMPAIGN);
    let mut influencers = Vec::new();
    for index in 0..count {
        let (influencer, _) =
            register_influencer(env, client, &format!("{name} {index} E2E")).await;
        influencers.push(influencer);
    }
    eventually(
        env,
        "the registrations dead-lettered",
        async || match dead_letter_backlog(env, client, DEAD_LETTERS).await {
            now if now == before + count => Ok(()),
            other => Err(format!("{other} dead letters")),
        },
    )
    .await;
    frozen.resume();
    influencers
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
    let influencers = dead_lettered_registrations(&env, &client, 2, "Reinicio Carta").await;
    broker(&env, "stop");
    broker(&env, "start");
    env.wait_ready().await;
    assert_eq!(
        dead_letter_backlog(&env, &client, DEAD_LETTERS).await,
        2,
        "the dead letters are still there"
    );
    let listing = dlq_command(&env, &["list"]).await;
    assert!(
        listing.lines().any(|line| line == format!("{ROUTE} 2")),
        "{listing}"
    );
    let replayed = dlq_command(&env, &["replay", "--route", ROUTE]).await;
    assert!(
        replayed.lines().any(|line| line == "replayed 2"),
        "{replayed}"
    );
    for influencer in &influencers {
        the_welcome_saga(&env, &client, influencer).await;
    }
    wait_settled(&env, &client, &ROUTES).await;
    for influencer in &influencers {
        the_one_campaign_of(&env, &client, &influencer.id).await;
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
    // Another subscriber of the topic: it must see each event once, and no replayed copy.
    let mut observer = env.subscribe("eventos-influencers").await;

    let influencers = dead_lettered_registrations(&env, &client, 3, "Carta Muerta").await;
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

    // The sagas stall until someone replays: no campaign, however long we wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for influencer in &influencers {
        let url = env.url(
            CREATE_CAMPAIGN,
            &format!("/campanas?influencer_id={}", influencer.id),
        );
        let campaigns = get_array(&client, &url).await.unwrap_or_default();
        assert!(campaigns.is_empty(), "{campaigns:#?}");
    }
    // One ERROR line per dead letter, with the event id, route, attempts and last error.
    let log = std::fs::read_to_string(env.log_dir.join("pulsar-bridge.log")).unwrap_or_default();
    for event_id in &event_ids {
        let line = log
            .lines()
            .find(|line| line.contains("message dead-lettered") && line.contains(event_id.as_str()))
            .unwrap_or_else(|| env.fail(format!("no dead-letter log line for {event_id}")));
        for expected in ["ERROR", ROUTE, "attempts", "timed out"] {
            assert!(line.contains(expected), "{expected} in {line}");
        }
    }
    // The bridge's metric follows the backlog (polled every 15 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let backlog =
            bridge_metric(&env, &client, "pulsar_bridge_dead_letter_backlog", ROUTE).await;
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
    assert!(
        listing.lines().any(|line| line == format!("{ROUTE} 3")),
        "{listing}"
    );
    for event_id in &event_ids {
        let line = listing
            .lines()
            .find(|line| line.contains(&format!("event_id={event_id} ")))
            .unwrap_or_else(|| env.fail(format!("{event_id} not listed:\n{listing}")));
        for expected in [
            "event_type=InfluencerRegistrado",
            "attempts=2",
            "first_failure=20",
            "last_failure=20",
            "last_error=\"timed out",
        ] {
            assert!(line.contains(expected), "{expected} in {line}");
        }
        assert!(!line.contains("correlation_id=- "), "{line}");
    }
    // Listing acknowledges nothing.
    assert_eq!(dead_letter_backlog(&env, &client, DEAD_LETTERS).await, 3);

    // make dlq-replay ROUTE=... EVENT_ID=...: that one only.
    let replay_started = Instant::now();
    let one = dlq_command(
        &env,
        &["replay", "--route", ROUTE, "--event-id", &event_ids[0]],
    )
    .await;
    assert!(one.lines().any(|line| line == "replayed 1"), "{one}");
    assert_eq!(dead_letter_backlog(&env, &client, DEAD_LETTERS).await, 2);
    // make dlq-replay: the rest.
    let rest = dlq_command(&env, &["replay"]).await;
    assert!(rest.lines().any(|line| line == "replayed 2"), "{rest}");
    assert_eq!(dead_letter_backlog(&env, &client, DEAD_LETTERS).await, 0);
    for influencer in &influencers {
        let (campaign, contract, report) = the_welcome_saga(&env, &client, influencer).await;
        assert_eq!(campaign["bienvenida"], true, "{campaign:#}");
        assert_eq!(contract["estado"], "activo", "{contract:#}");
        assert_eq!(report["id_contrato"], contract["id"], "{report:#}");
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
    // Exactly once, and the topic's other subscriber got no copy.
    for influencer in &influencers {
        the_one_campaign_of(&env, &client, &influencer.id).await;
    }
    let _ = observer.read_until(Duration::from_secs(3), |_| false).await;
    assert_eq!(
        observer.seen.len(),
        3,
        "the replays reached only their route"
    );
    observer.close().await;
    eprintln!("test took {:?}", started.elapsed());
}
