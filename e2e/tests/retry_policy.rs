//! The bridge's retry policy with its production defaults (issue 13): functions unavailable
//! for minutes, one frozen (pushes time out) and one answering 503 (its database refuses
//! connections), lose nothing to the dead-letter topics, and their sagas complete within
//! about a minute of their return, exactly once.
//!
//! Slow tier (minutes): `cargo build --bins && cargo test -p e2e --test retry_policy`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sqlx::{Connection, PgConnection};

/// How long create-campaign stays frozen: longer than the old policy's window (5 attempts,
/// about 2 minutes with the 20 s push timeout).
const OUTAGE: Duration = Duration::from_secs(180);
/// "Within about a minute of its return": the 60 s backoff cap, plus an attempt under way.
const AFTER_RETURN: Duration = Duration::from_secs(90);

/// The sum of a bridge counter over the routes.
async fn bridge_total(env: &Env, client: &reqwest::Client, name: &str) -> f64 {
    let mut total = 0.0;
    for (topic, function) in ROUTES {
        total += bridge_metric(env, client, name, &format!("{topic}/{function}")).await;
    }
    total
}

/// Polls `done` every 250 ms until it holds, at most until `AFTER_RETURN` after `since`.
async fn within_after_return(
    env: &Env,
    since: Instant,
    what: &str,
    mut done: impl AsyncFnMut() -> Result<(), String>,
) -> Duration {
    loop {
        let last = match done().await {
            Ok(()) => return since.elapsed(),
            Err(last) => last,
        };
        if since.elapsed() > AFTER_RETURN {
            env.fail(format!(
                "{what}: not within {AFTER_RETURN:?} of the return; last: {last}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn slow_functions_down_for_three_minutes_lose_nothing_with_the_default_policy() {
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
    // Everything is connected: one saga completes.
    let (before, _) = register_influencer(&env, &client, "Antes Reintentos E2E").await;
    the_welcome_saga(&env, &client, &before).await;
    let delivered_before =
        bridge_metric(&env, &client, "pulsar_bridge_delivered_total", route).await;

    // 1. generate-report answers 503: sagas get their campaign and contract, not their report.
    let mut admin = PgConnection::connect(&env.admin_database_url)
        .await
        .unwrap_or_else(|error| env.fail(format!("connect: {error}")));
    reportes_connections(&env, &mut admin, false).await;
    let closed_at = Instant::now();
    let mut waiting_for_reports = Vec::new();
    for index in 0..3 {
        let (influencer, _) =
            register_influencer(&env, &client, &format!("Informe 503 {index} E2E")).await;
        let campaign = the_one_campaign_of(&env, &client, &influencer.id).await;
        let campaign_id = text(&campaign, "id").to_owned();
        the_one_contract_of(&env, &client, &influencer.id, &campaign_id).await;
        waiting_for_reports.push(campaign_id);
    }
    // 2. create-campaign frozen: pushes time out (20 s), sagas stop at the registration.
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
    let failed_reports = bridge_metric(
        &env,
        &client,
        "pulsar_bridge_failed_attempts_total",
        "eventos-contratos/generate-report",
    )
    .await;
    assert!(
        failed >= 5.0,
        "the bridge kept trying: {failed} failed attempts"
    );
    assert!(failed_reports >= 3.0, "{failed_reports} failed attempts");
    assert_eq!(
        bridge_total(&env, &client, "pulsar_bridge_dead_lettered_total").await,
        0.0,
        "nothing dead-lettered during the outages"
    );
    let oldest = bridge_metric(
        &env,
        &client,
        "pulsar_bridge_oldest_retry_age_seconds",
        route,
    )
    .await;
    assert!(
        oldest >= 60.0,
        "the oldest retry is as old as the outage: {oldest} s"
    );
    frozen.resume();
    reportes_connections(&env, &mut admin, true).await;
    let _ = admin.close().await;
    let returned = Instant::now();
    eprintln!(
        "create-campaign frozen for {:?} ({failed} failed attempts), generate-report answering 503 for {:?} ({failed_reports} failed attempts on eventos-contratos)",
        frozen_at.elapsed(),
        closed_at.elapsed()
    );

    // Every saga resumes within about a minute.
    for influencer in &during {
        let url = env.url(
            CREATE_CAMPAIGN,
            &format!("/campanas?influencer_id={}&limite=100", influencer.id),
        );
        within_after_return(&env, returned, "a welcome campaign", async || {
            let campaigns = get_array(&client, &url).await?;
            match campaigns.len() {
                0 => Err("no campaign".into()),
                1 => Ok(()),
                more => env.fail(format!("{more} campaigns: {campaigns:#?}")),
            }
        })
        .await;
    }
    let campaigns_after = returned.elapsed();
    for campaign_id in &waiting_for_reports {
        within_after_return(&env, returned, "a completed report", async || {
            let reports = reports_of(&client, &env, campaign_id).await?;
            match reports.as_slice() {
                [report] if report["estado"] == "completado" => Ok(()),
                [] => Err("no report".into()),
                [report] => Err(format!("report {}", report["estado"])),
                more => env.fail(format!("{} reports: {more:#?}", more.len())),
            }
        })
        .await;
    }
    let reports_after = returned.elapsed();
    // The function may handle pushes the bridge already gave up on (they waited in its
    // socket while it was frozen): what counts too is that the bridge's own retries got
    // through, each message acknowledged after a 2xx.
    let delivered_after =
        within_after_return(&env, returned, "the bridge's deliveries", async || {
            let delivered =
                bridge_metric(&env, &client, "pulsar_bridge_delivered_total", route).await;
            if delivered >= delivered_before + 5.0 {
                Ok(())
            } else {
                Err(format!("{} of 5 delivered", delivered - delivered_before))
            }
        })
        .await;
    eprintln!(
        "after the return: every welcome campaign in {campaigns_after:?}, the bridge's deliveries to create-campaign in {delivered_after:?}, every report completed in {reports_after:?}"
    );
    for influencer in &during {
        let (campaign, contract, report) = the_welcome_saga(&env, &client, influencer).await;
        assert_eq!(campaign["bienvenida"], true, "{campaign:#}");
        assert_eq!(contract["estado"], "activo", "{contract:#}");
        assert_eq!(report["id_contrato"], contract["id"], "{report:#}");
    }
    wait_settled(&env, &client, &ROUTES).await;
    // Exactly once: still one campaign and one report each once everything is settled.
    for influencer in &during {
        the_one_campaign_of(&env, &client, &influencer.id).await;
    }
    for campaign_id in &waiting_for_reports {
        let reports = reports_of(&client, &env, campaign_id)
            .await
            .unwrap_or_else(|error| env.fail(error));
        assert_eq!(reports.len(), 1, "{reports:#?}");
    }
    for (topic, function) in ROUTES {
        let dead_letters = format!("{topic}-{function}-DLQ");
        assert_eq!(dead_letter_backlog(&env, &client, &dead_letters).await, 0);
    }
    assert_eq!(
        bridge_total(&env, &client, "pulsar_bridge_dead_lettered_total").await,
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
