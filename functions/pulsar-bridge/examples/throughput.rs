//! Throughput and added latency of one bridge instance pushing to a trivial loopback
//! endpoint, against the real broker (`scripts/pulsar.sh start`).
//!
//! ```sh
//! cargo run --release -p pulsar-bridge --example throughput -- [MESSAGES] [CONCURRENCY] [SAMPLES] [RECEIVE_QUEUE]
//! ```
//!
//! Defaults: 20000 messages, and 300 latency samples, with the bridge's default route
//! settings (concurrency 16, receive queue 500); the whole run is bounded by 5 minutes.
//!
//! - Throughput: the messages are published while the bridge is stopped, then one bridge
//!   drains the backlog; messages/s is measured between the first and the last push.
//! - Latency: one message at a time, from the start of the publish to the push's arrival at
//!   the endpoint, compared with the same path to a plain Pulsar consumer (the broker's
//!   share); the difference is what the bridge adds (consumer hand-off, envelope, HTTP).

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use futures::StreamExt;
use pulsar_bridge::config::PushAuth;
use support::{Bridge, Outgoing, TestProducer, client, config, route, subscribe, unique_topic};
use tokio::sync::mpsc;

type Arrivals = mpsc::Sender<(u64, Instant)>;

/// The endpoint: reads the envelope, reports which message arrived and when, answers 204.
async fn receive(State(arrivals): State<Arc<Arrivals>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let Ok(envelope) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let data = envelope["message"]["data"].as_str().unwrap_or_default();
    let sequence = STANDARD
        .decode(data)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok());
    match sequence {
        Some(sequence) => {
            let _ = arrivals.send((sequence, at)).await;
            StatusCode::NO_CONTENT
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map(|raw| raw.parse().expect("arguments are numbers"))
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let defaults = pulsar_bridge::config::RouteDefaults::default();
    let messages = arg(1, 20_000);
    let concurrency = arg(2, defaults.concurrency);
    let samples = arg(3, 300);
    let receive_queue = arg(4, defaults.receive_queue as usize);
    tokio::time::timeout(
        Duration::from_secs(300),
        run(messages, concurrency, samples, receive_queue),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the benchmark took more than 5 minutes"))?
}

async fn run(
    messages: usize,
    concurrency: usize,
    samples: usize,
    receive_queue: usize,
) -> anyhow::Result<()> {
    let (arrivals, mut arrived) = mpsc::channel(messages.max(samples) + 16);
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(Arc::new(arrivals));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let topic = unique_topic("bench");
    let mut bench_route = route(&topic, "bench", &url);
    bench_route.concurrency = concurrency;
    bench_route.receive_queue = u32::try_from(receive_queue)?;
    let mut bridge_config = config(vec![bench_route]);
    bridge_config.push_auth = PushAuth::None;
    let pulsar = client().await;

    // Throughput: create the subscription, stop, publish a backlog, drain it.
    Bridge::start(bridge_config.clone()).await.stop().await;
    let mut producer = TestProducer::with_options(
        &pulsar,
        &topic,
        pulsar::producer::ProducerOptions {
            block_queue_if_full: true,
            ..Default::default()
        },
    )
    .await;
    let publishing = Instant::now();
    let mut receipts = Vec::with_capacity(messages);
    for sequence in 0..messages {
        receipts.push(
            producer
                .send_batched(Outgoing::text(&sequence.to_string()))
                .await,
        );
    }
    for receipt in receipts {
        receipt.await?;
    }
    println!(
        "published {messages} messages in {:.2} s",
        publishing.elapsed().as_secs_f64()
    );
    let bridge = Bridge::start(bridge_config).await;
    let mut seen = vec![false; messages];
    let (mut distinct, mut first, mut last) = (0, None, None);
    while distinct < messages {
        let (sequence, at) = arrived
            .recv()
            .await
            .ok_or_else(|| anyhow::anyhow!("the endpoint stopped"))?;
        first.get_or_insert(at);
        last = Some(at);
        let slot = &mut seen[usize::try_from(sequence)?];
        if !*slot {
            *slot = true;
            distinct += 1;
        }
    }
    let span = last.unwrap() - first.unwrap();
    println!(
        "throughput: {messages} pushes in {:.2} s = {:.0} messages/s (concurrency {concurrency}, receive queue {receive_queue})",
        span.as_secs_f64(),
        (messages - 1) as f64 / span.as_secs_f64()
    );

    // Latency through the bridge, one message at a time.
    let mut through_bridge = Vec::with_capacity(samples);
    for sample in 0..samples {
        let sequence = (messages + sample) as u64;
        let started = Instant::now();
        let receipt = producer
            .send_batched(Outgoing::text(&sequence.to_string()))
            .await;
        let at = loop {
            let (arrival, at) = arrived
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("the endpoint stopped"))?;
            if arrival == sequence {
                break at;
            }
        };
        through_bridge.push(at - started);
        receipt.await?;
    }
    bridge.stop().await;

    // The same round trip to a plain consumer: the broker's share.
    let baseline_topic = unique_topic("bench-baseline");
    // Its own connection, like the bridge's: the client does not set TCP_NODELAY, so
    // acknowledgements on the producer's connection would delay its next publish.
    let consumer_client = client().await;
    let mut consumer = subscribe(&consumer_client, &baseline_topic).await;
    let mut baseline_producer = TestProducer::new(&pulsar, &baseline_topic).await;
    let mut direct = Vec::with_capacity(samples);
    for sample in 0..samples {
        let started = Instant::now();
        let receipt = baseline_producer
            .send_batched(Outgoing::text(&sample.to_string()))
            .await;
        let message = consumer
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("the consumer stopped"))??;
        direct.push(started.elapsed());
        consumer.ack(&message).await?;
        receipt.await?;
    }

    through_bridge.sort();
    direct.sort();
    let (bridge_p50, bridge_p99) = (
        percentile(&through_bridge, 0.5),
        percentile(&through_bridge, 0.99),
    );
    let (direct_p50, direct_p99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    println!(
        "publish -> push (bridge):    p50 {}  p99 {}  ({samples} samples)",
        millis(bridge_p50),
        millis(bridge_p99)
    );
    println!(
        "publish -> receive (direct): p50 {}  p99 {}",
        millis(direct_p50),
        millis(direct_p99)
    );
    let added = |bridge: Duration, direct: Duration| {
        format!(
            "{:+.2} ms",
            (bridge.as_secs_f64() - direct.as_secs_f64()) * 1000.0
        )
    };
    println!(
        "added by the bridge:         p50 {}  p99 {}",
        added(bridge_p50, direct_p50),
        added(bridge_p99, direct_p99)
    );
    Ok(())
}
