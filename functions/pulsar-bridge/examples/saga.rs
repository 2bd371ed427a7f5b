//! Saga load: registers influencers through the HTTP API and times each one until its
//! welcome campaign's report is `completado`, read from `eventos-reportes` (the whole
//! topology must be running: every function, the bridge and, optionally, a gateway;
//! `scripts/bench.py` starts it).
//!
//! ```sh
//! cargo run --release -p pulsar-bridge --example saga -- BASE_URL [SAGAS=1000] [CONCURRENCY=8] [WARMUP=20]
//! ```
//!
//! Each saga: `POST {BASE_URL}/influencers` with a client-chosen `id` and a unique email;
//! from its `201` to the first `EventoReporte` with `estado = completado` naming that
//! influencer (`id_influencer`) on a non-durable subscription of `eventos-reportes` (in
//! `PULSAR_NAMESPACE`, default `public/default`) opened before the first request. At most `CONCURRENCY` sagas are in flight: a worker starts its
//! next registration only when its previous saga completed (closed loop). `WARMUP` sagas
//! run first and are not counted. A saga not completed within 60 s counts as failed; the
//! whole run is bounded by 5 minutes. The last line of output is one JSON object.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alpes_shared::events::{IntegrationEvent, Topic};
use futures::StreamExt;
use pulsar::{ConsumerOptions, Pulsar, SubType, TokioExecutor, consumer::InitialPosition};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Sagas waiting for their report: influencer id -> where to send the completion time.
type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Instant>>>>;

const SAGA_TIMEOUT: Duration = Duration::from_secs(60);

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map(|raw| raw.parse().expect("arguments after the URL are numbers"))
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

#[derive(Default)]
struct Outcome {
    /// Milliseconds from the 201 to the report `completado`.
    after_201: Vec<f64>,
    /// Milliseconds from sending the POST to the report `completado`.
    after_post: Vec<f64>,
    /// Milliseconds of the POST itself.
    post: Vec<f64>,
    failed: usize,
    first_failure: Option<String>,
    first_start: Option<Instant>,
    last_done: Option<Instant>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base_url = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: saga BASE_URL [SAGAS] [CONCURRENCY] [WARMUP]"))?;
    let sagas = arg(2, 1000);
    let concurrency = arg(3, 8).max(1);
    let warmup = arg(4, 20);
    tokio::time::timeout(
        Duration::from_secs(300),
        run(base_url, sagas, concurrency, warmup),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the saga benchmark took more than 5 minutes"))?
}

async fn run(
    base_url: String,
    sagas: usize,
    concurrency: usize,
    warmup: usize,
) -> anyhow::Result<()> {
    let url = std::env::var("PULSAR_URL").unwrap_or_else(|_| "pulsar://127.0.0.1:6650".into());
    // The topology's namespace (`PULSAR_NAMESPACE`, as the functions read it).
    let namespace = std::env::var("PULSAR_NAMESPACE")
        .ok()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "public/default".into());
    let pulsar: Pulsar<TokioExecutor> = Pulsar::builder(url, TokioExecutor).build().await?;
    let mut consumer: pulsar::Consumer<Vec<u8>, TokioExecutor> = pulsar
        .consumer()
        .with_topic(format!(
            "persistent://{namespace}/{}",
            Topic::Reportes.name()
        ))
        .with_subscription(format!("bench-saga-{}", Uuid::new_v4().simple()))
        .with_subscription_type(SubType::Exclusive)
        .with_options(
            ConsumerOptions::default()
                .durable(false)
                .with_initial_position(InitialPosition::Latest)
                .with_receiver_queue_size(1000),
        )
        .build()
        .await?;
    let waiters: Waiters = Arc::default();
    let listening = {
        let waiters = waiters.clone();
        tokio::spawn(async move {
            while let Some(message) = consumer.next().await {
                let Ok(message) = message else { continue };
                let at = Instant::now();
                let _ = consumer.ack(&message).await;
                let Ok(IntegrationEvent::Reporte(report)) =
                    IntegrationEvent::decode(Topic::Reportes, &message.payload.data)
                else {
                    continue;
                };
                if report.estado.as_deref() != Some("completado") {
                    continue;
                }
                let Some(influencer) = report.id_influencer else {
                    continue;
                };
                let waiter = waiters
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&influencer);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(at);
                }
            }
        })
    };

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let run_tag = Uuid::new_v4().simple().to_string();

    if warmup > 0 {
        println!("warm-up: {warmup} sagas");
        let outcome = drive(
            &client,
            &base_url,
            &waiters,
            &run_tag,
            "w",
            warmup,
            concurrency.min(warmup),
        )
        .await;
        if outcome.failed == warmup {
            anyhow::bail!(
                "every warm-up saga failed: {}",
                outcome.first_failure.unwrap_or_default()
            );
        }
    }
    println!("measuring: {sagas} sagas, at most {concurrency} in flight");
    let outcome = drive(
        &client,
        &base_url,
        &waiters,
        &run_tag,
        "m",
        sagas,
        concurrency,
    )
    .await;
    listening.abort();

    let mut after_201 = outcome.after_201.clone();
    let mut after_post = outcome.after_post.clone();
    let mut post = outcome.post.clone();
    for values in [&mut after_201, &mut after_post, &mut post] {
        values.sort_by(f64::total_cmp);
    }
    let span = match (outcome.first_start, outcome.last_done) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => f64::NAN,
    };
    let completed = after_201.len();
    let rate = completed as f64 / span;
    println!(
        "{completed} sagas completed, {} failed, in {span:.2} s = {rate:.1} sagas/s (concurrency {concurrency})",
        outcome.failed
    );
    println!(
        "201 -> report completado: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        percentile(&after_201, 0.5),
        percentile(&after_201, 0.99),
        after_201.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "POST sent -> report completado: p50 {:.1} ms  p99 {:.1} ms; POST alone p50 {:.1} ms  p99 {:.1} ms",
        percentile(&after_post, 0.5),
        percentile(&after_post, 0.99),
        percentile(&post, 0.5),
        percentile(&post, 0.99)
    );
    if let Some(failure) = &outcome.first_failure {
        println!("first failure: {failure}");
    }
    let round = |value: f64| (value * 10.0).round() / 10.0;
    let json = serde_json::json!({
        "sagas": sagas,
        "concurrency": concurrency,
        "warmup": warmup,
        "completed": completed,
        "failed": outcome.failed,
        "first_failure": outcome.first_failure,
        "seconds": round(span),
        "sagas_per_s": round(rate),
        "after_201_ms": {
            "p50": round(percentile(&after_201, 0.5)),
            "p90": round(percentile(&after_201, 0.9)),
            "p99": round(percentile(&after_201, 0.99)),
            "max": round(after_201.last().copied().unwrap_or(f64::NAN)),
        },
        "after_post_ms": {
            "p50": round(percentile(&after_post, 0.5)),
            "p99": round(percentile(&after_post, 0.99)),
        },
        "post_ms": {
            "p50": round(percentile(&post, 0.5)),
            "p99": round(percentile(&post, 0.99)),
        },
    });
    println!("{json}");
    Ok(())
}

/// Runs `count` sagas with at most `concurrency` in flight.
async fn drive(
    client: &reqwest::Client,
    base_url: &str,
    waiters: &Waiters,
    run_tag: &str,
    phase: &str,
    count: usize,
    concurrency: usize,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, waiters, next, outcome) = (
            client.clone(),
            waiters.clone(),
            next.clone(),
            outcome.clone(),
        );
        let url = format!("{base_url}/influencers");
        let tag = format!("{run_tag}-{phase}");
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let result = saga(&client, &url, &waiters, &tag, index, &outcome).await;
                let mut outcome = outcome.lock().unwrap_or_else(PoisonError::into_inner);
                match result {
                    Ok((post_ms, after_201_ms, after_post_ms, done)) => {
                        outcome.post.push(post_ms);
                        outcome.after_201.push(after_201_ms);
                        outcome.after_post.push(after_post_ms);
                        outcome.last_done =
                            Some(outcome.last_done.map_or(done, |last| last.max(done)));
                    }
                    Err(error) => {
                        outcome.failed += 1;
                        outcome.first_failure.get_or_insert(error);
                    }
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    Arc::try_unwrap(outcome)
        .ok()
        .map(|outcome| outcome.into_inner().unwrap_or_else(PoisonError::into_inner))
        .unwrap_or_default()
}

/// One saga: (POST ms, 201 -> completado ms, POST sent -> completado ms, completion time).
async fn saga(
    client: &reqwest::Client,
    url: &str,
    waiters: &Waiters,
    tag: &str,
    index: usize,
    outcome: &Mutex<Outcome>,
) -> Result<(f64, f64, f64, Instant), String> {
    let id = Uuid::now_v7();
    let (done_tx, done_rx) = oneshot::channel();
    waiters
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.to_string(), done_tx);
    let body = serde_json::json!({
        "id": id,
        "nombre": format!("Saga {index}"),
        "email": format!("saga-{tag}-{index}@bench.example.com"),
        "categorias": ["moda", "viajes"],
        "plataformas": ["instagram"],
    });
    let started = Instant::now();
    {
        let mut outcome = outcome.lock().unwrap_or_else(PoisonError::into_inner);
        outcome.first_start.get_or_insert(started);
    }
    let forget = || {
        waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id.to_string());
    };
    let response = match client.post(url).json(&body).send().await {
        Ok(response) => response,
        Err(error) => {
            forget();
            return Err(format!("POST failed: {error}"));
        }
    };
    let created = Instant::now();
    if response.status() != reqwest::StatusCode::CREATED {
        forget();
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!("POST answered {status}: {text}"));
    }
    match tokio::time::timeout(SAGA_TIMEOUT, done_rx).await {
        Ok(Ok(done)) => {
            let ms = |from: Instant| (done.saturating_duration_since(from)).as_secs_f64() * 1000.0;
            Ok((
                (created - started).as_secs_f64() * 1000.0,
                ms(created),
                ms(started),
                done,
            ))
        }
        _ => {
            forget();
            Err(format!(
                "influencer {id}: no report completado within {SAGA_TIMEOUT:?}"
            ))
        }
    }
}
