//! Slow tier (`make test-fast` skips it): many sagas at once through Pulsar and the bridge.
//!
//! 1. N concurrent registrations (N >= 200, `E2E_BURST`): exactly N welcome campaigns, N
//!    contracts and N completed reports, and exactly two report events per campaign.
//! 2. The end-to-end latency of one saga (the 201 of `POST /influencers` to the arrival of
//!    its `ReporteActualizado` `completado` on `eventos-reportes`), p50 and p99 over
//!    `E2E_SAGAS` (default 500) sagas with a few in flight (`E2E_IN_FLIGHT`, default 4), so
//!    the figure is a saga's latency rather than a queue's. Debug binaries, one 2-core
//!    machine: `make bench` measures the release build. Written to
//!    `target/e2e-logs/<run>/saga-latency.json` and printed.

mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alpes_shared::events::IntegrationEvent;
use common::*;
use futures::{StreamExt, stream};
use serde_json::json;
use sqlx::Connection;
use tokio::sync::Notify;
use uuid::Uuid;

fn count_var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// `POST /influencers` with a client-chosen id, retried (bounded) on 503: an overloaded
/// instance sheds load with 503 before touching the database, and a client retries the
/// same request, which the id makes idempotent (a replay answers 200).
async fn register(env: &Env, client: &reqwest::Client, index: usize) -> (String, Instant) {
    let id = Uuid::now_v7().to_string();
    let body = json!({
        "id": id,
        "nombre": format!("Carga {index}"),
        "email": format!("e2e-load-{}@example.com", Uuid::new_v4().simple()),
        "categorias": ["moda"],
    });
    let url = env.url(REGISTER_INFLUENCER, "/influencers");
    for _attempt in 0..10 {
        let (status, answer) = post_json(env, client, &url, &body).await;
        match status {
            201 | 200 => return (id, Instant::now()),
            503 => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => env.fail(format!("POST {url}: {status} {answer}")),
        }
    }
    env.fail(format!("POST {url}: still 503 after 10 attempts"))
}

/// The influencer of a `ReporteActualizado` `completado`.
fn completed_influencer(event: &IntegrationEvent) -> Option<String> {
    match event {
        IntegrationEvent::Reporte(report)
            if report.tipo_evento.as_deref() == Some("ReporteActualizado")
                && report.estado.as_deref() == Some("completado") =>
        {
            report.id_influencer.clone()
        }
        _ => None,
    }
}

/// The influencers whose saga completed, with when its `ReporteActualizado completado`
/// arrived (the first one: a second would fail the exact counts below).
fn completed(
    seen: &[(
        IntegrationEvent,
        std::collections::BTreeMap<String, String>,
        Instant,
    )],
) -> HashMap<String, Instant> {
    let mut done = HashMap::new();
    for (event, _, arrived) in seen {
        if let IntegrationEvent::Reporte(report) = event
            && report.tipo_evento.as_deref() == Some("ReporteActualizado")
            && report.estado.as_deref() == Some("completado")
            && let Some(influencer) = &report.id_influencer
        {
            done.entry(influencer.clone()).or_insert(*arrived);
        }
    }
    done
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test]
async fn slow_concurrent_registrations_complete_exactly_once_and_saga_latency() {
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let mut reports = env.subscribe("eventos-reportes").await;

    // 1. A burst of N registrations at once.
    let burst = count_var("E2E_BURST", 200).max(200);
    let registered: Vec<(String, Instant)> = stream::iter(0..burst)
        .map(|index| register(&env, &client, index))
        .buffer_unordered(burst)
        .collect()
        .await;
    let ids: HashSet<String> = registered.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), burst, "distinct influencers");
    let outcome = reports
        .read_until(Duration::from_secs(180), |seen| {
            completed(seen)
                .keys()
                .filter(|id| ids.contains(*id))
                .count()
                == burst
        })
        .await;
    if let Err(error) = outcome {
        let done = completed(&reports.seen)
            .keys()
            .filter(|id| ids.contains(*id))
            .count();
        env.fail(format!("{done} of {burst} sagas completed: {error}"));
    }
    wait_settled(&env, &client, &ROUTES).await;

    let mut alpes = env.connect(Database::Alpes).await;
    let influencer_ids: Vec<String> = ids.iter().cloned().collect();
    let (campaigns, contracts): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM alpes.campaigns WHERE influencer_id = ANY($1)),
                (SELECT count(*) FROM alpes.contracts WHERE influencer_id = ANY($1))",
    )
    .bind(&influencer_ids)
    .fetch_one(&mut alpes)
    .await
    .unwrap_or_else(|error| env.fail(format!("count campaigns and contracts: {error}")));
    let _ = alpes.close().await;
    let mut reportes = env.connect(Database::Reportes).await;
    let (reports_total, reports_completed): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE estado = 'completado' AND contract_id IS NOT NULL)
         FROM reportes.reports WHERE influencer_id = ANY($1)",
    )
    .bind(&influencer_ids)
    .fetch_one(&mut reportes)
    .await
    .unwrap_or_else(|error| env.fail(format!("count reports: {error}")));
    let _ = reportes.close().await;
    let expected = burst as i64;
    assert_eq!(
        (campaigns, contracts, reports_total, reports_completed),
        (expected, expected, expected, expected),
        "(welcome campaigns, contracts, reports, completed reports) of {burst} registrations"
    );
    let mut events_per_influencer: HashMap<&str, usize> = HashMap::new();
    for (event, _, _) in &reports.seen {
        if let IntegrationEvent::Reporte(report) = event
            && let Some(influencer) = report.id_influencer.as_deref()
            && ids.contains(influencer)
        {
            *events_per_influencer.entry(influencer).or_default() += 1;
        }
    }
    assert!(
        events_per_influencer.len() == burst
            && events_per_influencer.values().all(|count| *count == 2),
        "two report events (ReporteCreado, ReporteActualizado) per saga: {:?}",
        events_per_influencer
            .values()
            .filter(|count| **count != 2)
            .collect::<Vec<_>>()
    );

    // 2. Latency of one saga: `in_flight` lanes, each registering its next influencer once
    //    its previous saga completed (a closed loop: no queue builds up in the system).
    let sagas = count_var("E2E_SAGAS", 500);
    let in_flight = count_var("E2E_IN_FLIGHT", 4).clamp(1, sagas.max(1));
    let done: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let progress = Arc::new(Notify::new());
    let reader = {
        let (done, progress) = (done.clone(), progress.clone());
        tokio::spawn(async move {
            let outcome = reports
                .read_until(Duration::from_secs(600), |seen| {
                    if let Some((event, _, arrived)) = seen.last()
                        && let Some(id) = completed_influencer(event)
                    {
                        done.lock().unwrap().entry(id).or_insert(*arrived);
                        progress.notify_waiters();
                    }
                    false
                })
                .await;
            (reports, outcome)
        })
    };
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let lanes = (0..in_flight).map(|_| async {
        let mut lane = Vec::new();
        while next.fetch_add(1, Ordering::Relaxed) < sagas {
            let (id, registered_at) = register(&env, &client, burst + lane.len()).await;
            let deadline = Instant::now() + FLOW_TIMEOUT;
            loop {
                let notified = progress.notified();
                if let Some(at) = done.lock().unwrap().get(&id) {
                    lane.push(at.saturating_duration_since(registered_at));
                    break;
                }
                if Instant::now() >= deadline {
                    env.fail(format!(
                        "the saga of influencer {id} did not complete within {FLOW_TIMEOUT:?}"
                    ));
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
            }
        }
        lane
    });
    let mut latencies: Vec<Duration> = futures::future::join_all(lanes).await.concat();
    let elapsed = started.elapsed();
    // The reader's subscription goes with the run's namespace.
    reader.abort();
    let _ = reader.await;
    latencies.sort();
    let (p50, p99, max) = (
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    let summary = json!({
        "what": "saga latency: 201 of POST /influencers -> ReporteActualizado completado received on eventos-reportes",
        "build": "debug",
        "sagas": sagas,
        "in_flight": in_flight,
        "p50_ms": p50.as_secs_f64() * 1e3,
        "p99_ms": p99.as_secs_f64() * 1e3,
        "max_ms": max.as_secs_f64() * 1e3,
        "sagas_per_second": sagas as f64 / elapsed.as_secs_f64(),
        "burst": burst,
    });
    println!("e2e saga latency: {summary}");
    let _ = std::fs::write(
        env.log_dir.join("saga-latency.json"),
        format!("{summary:#}\n"),
    );
    assert_eq!(latencies.len(), sagas, "one latency per saga");
}
