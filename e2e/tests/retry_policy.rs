//! The bridge's retry policy with its production defaults (issue 13): a function that is
//! unavailable for minutes loses nothing to the dead-letter topic, and its sagas complete
//! within about a minute of its return, exactly once.
//!
//! Slow tier (minutes): `cargo build --bins && cargo test -p e2e --test retry_policy`.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// How long create-campaign stays frozen: longer than the old policy's window (5 attempts,
/// about 2 minutes with the 20 s push timeout).
const OUTAGE: Duration = Duration::from_secs(180);
/// "Within about a minute of its return": the 60 s backoff cap, plus an attempt under way.
const AFTER_RETURN: Duration = Duration::from_secs(90);

#[tokio::test]
async fn slow_a_function_down_for_three_minutes_loses_nothing_with_the_default_policy() {
    // The production defaults (the harness otherwise shortens them).
    BRIDGE_SETTINGS.lock().unwrap().extend([
        ("BRIDGE_MIN_BACKOFF_MS", "1000".to_owned()),
        ("BRIDGE_MAX_BACKOFF_MS", "60000".to_owned()),
        ("BRIDGE_MAX_ATTEMPTS", "100".to_owned()),
        ("BRIDGE_RETRY_BUDGET", "24h".to_owned()),
    ]);
    let started = Instant::now();
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let route = "eventos-influencers/create-campaign";
    let dead_letters = "eventos-influencers-create-campaign-DLQ";
    // Everything is connected: one saga completes.
    let (before, _) = register_influencer(&env, &client, "Antes Reintentos E2E").await;
    the_welcome_saga(&env, &client, &before).await;

    let delivered_before =
        bridge_metric(&env, &client, "pulsar_bridge_delivered_total", route).await;
    let mut frozen = Frozen::new(&env, CREATE_CAMPAIGN);
    let frozen_at = Instant::now();
    let mut during = Vec::new();
    for index in 0..5 {
        let (influencer, _) =
            register_influencer(&env, &client, &format!("Durante Reintentos {index} E2E")).await;
        during.push(influencer);
    }
    tokio::time::sleep(OUTAGE.saturating_sub(frozen_at.elapsed())).await;
    let failed = bridge_metric(&env, &client, "pulsar_bridge_failed_attempts_total", route).await;
    assert!(
        failed >= 5.0,
        "the bridge kept trying: {failed} failed attempts"
    );
    assert_eq!(
        bridge_metric(&env, &client, "pulsar_bridge_dead_lettered_total", route).await,
        0.0,
        "nothing dead-lettered during the outage"
    );
    let retrying = bridge_metric(
        &env,
        &client,
        "pulsar_bridge_oldest_retry_age_seconds",
        route,
    )
    .await;
    assert!(
        retrying >= 60.0,
        "the oldest retry is as old as the outage: {retrying} s"
    );
    frozen.resume();
    let resumed = Instant::now();
    eprintln!(
        "create-campaign frozen for {:?}, {failed} failed attempts",
        frozen_at.elapsed()
    );

    // Every saga resumes within about a minute.
    let mut slowest = Duration::ZERO;
    for influencer in &during {
        let url = env.url(
            CREATE_CAMPAIGN,
            &format!("/campanas?influencer_id={}&limite=100", influencer.id),
        );
        loop {
            let campaigns = get_array(&client, &url).await.unwrap_or_default();
            match campaigns.len() {
                0 => {}
                1 => break,
                more => env.fail(format!(
                    "influencer {} has {more} campaigns: {campaigns:#?}",
                    influencer.id
                )),
            }
            if resumed.elapsed() > AFTER_RETURN {
                env.fail(format!(
                    "influencer {}: no campaign {AFTER_RETURN:?} after create-campaign returned",
                    influencer.id
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        slowest = slowest.max(resumed.elapsed());
    }
    eprintln!("every welcome campaign created {slowest:?} after create-campaign returned");
    // The function may handle pushes the bridge already gave up on (they waited in its
    // socket while it was frozen): what counts is that the bridge's own retries got through,
    // each message acknowledged after a 2xx, within about a minute too.
    loop {
        let delivered = bridge_metric(&env, &client, "pulsar_bridge_delivered_total", route).await;
        if delivered >= delivered_before + 5.0 {
            break;
        }
        if resumed.elapsed() > AFTER_RETURN {
            env.fail(format!(
                "the bridge delivered {} of 5 messages {AFTER_RETURN:?} after create-campaign returned",
                delivered - delivered_before
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "the bridge delivered every retried message {:?} after create-campaign returned",
        resumed.elapsed()
    );
    for influencer in &during {
        let (campaign, contract, report) = the_welcome_saga(&env, &client, influencer).await;
        assert_eq!(campaign["bienvenida"], true, "{campaign:#}");
        assert_eq!(contract["estado"], "activo", "{contract:#}");
        assert_eq!(report["id_contrato"], contract["id"], "{report:#}");
    }
    wait_settled(&env, &client, &ROUTES).await;
    // Exactly once: still one campaign each once everything is settled.
    for influencer in &during {
        the_one_campaign_of(&env, &client, &influencer.id).await;
    }
    assert_eq!(dead_letter_backlog(&env, &client, dead_letters).await, 0);
    assert_eq!(
        bridge_metric(&env, &client, "pulsar_bridge_dead_lettered_total", route).await,
        0.0
    );
    assert_eq!(
        bridge_metric(
            &env,
            &client,
            "pulsar_bridge_oldest_retry_age_seconds",
            route
        )
        .await,
        0.0,
        "nothing left retrying"
    );
    eprintln!("test took {:?}", started.elapsed());
}
