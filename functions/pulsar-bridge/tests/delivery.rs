//! The bridge against the real Pulsar broker (`scripts/pulsar.sh start`) and real HTTP
//! targets started by each test. Every test uses its own topics.
//!
//! `broker_restart_under_load_loses_nothing` restarts the shared broker, which would disturb
//! the other tests, so it is ignored by default; run it alone with
//! `cargo test -p pulsar-bridge --test delivery -- --ignored broker_restart`.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alpes_shared::events::{CampanaCreadaPayload, IntegrationEvent, Topic};
use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use pulsar_bridge::config::{Backoff, PushAuth};
use support::*;

const LONG: Duration = Duration::from_secs(30);

fn short(topic: &str) -> &str {
    topic.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_the_pubsub_envelope_and_acks_on_2xx() {
    let target = Target::start(|_, _| Reply::status(204)).await;
    let topic = unique_topic("envelope");
    let bridge = Bridge::start(config(vec![route(
        &topic,
        "generate-report",
        &target.events_url(),
    )]))
    .await;

    // A real contract payload, from a producer that registered the topic's AVRO schema.
    let event: IntegrationEvent = CampanaCreadaPayload {
        campana_id: Some("camp-1".into()),
        nombre: Some("Campaña ñandú".into()),
        ..Default::default()
    }
    .into();
    let payload = event.encode().unwrap();
    let pulsar = client().await;
    let mut producer = TestProducer::avro(
        &pulsar,
        &topic,
        Topic::Campanas.record_name(),
        Topic::Campanas.registry_schema_json(),
    )
    .await;
    let id = producer
        .send(Outgoing {
            payload: payload.clone(),
            key: Some("camp-1".into()),
            properties: BTreeMap::from([
                (
                    "event_id".into(),
                    "0198f3a2-0000-7000-8000-000000000001".into(),
                ),
                ("event_type".into(), "CampanaCreada".into()),
                ("correlation_id".into(), "camp-1".into()),
            ]),
        })
        .await;

    target
        .wait_for(LONG, "the push", |requests| !requests.is_empty())
        .await;
    wait_acknowledged(&topic, "generate-report", LONG).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = target.requests();
    assert_eq!(requests.len(), 1, "an acknowledged message is pushed once");
    let request = &requests[0];
    assert_eq!(request.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(request.headers["content-type"], "application/json");

    let body = request.body.as_object().unwrap();
    let keys: BTreeSet<_> = body.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["message", "subscription", "deliveryAttempt"])
    );
    assert_eq!(body["subscription"], "generate-report");
    assert_eq!(body["deliveryAttempt"], 1);
    let message = body["message"].as_object().unwrap();
    let keys: BTreeSet<_> = message.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "data",
            "attributes",
            "messageId",
            "message_id",
            "publishTime",
            "publish_time"
        ])
    );
    assert_eq!(
        request.payload, payload,
        "data is the base64 of the raw payload"
    );
    assert_eq!(
        IntegrationEvent::decode(Topic::Campanas, &request.payload).unwrap(),
        event
    );
    let message_id = format!("{}:{}:-1:-1", id.ledger_id, id.entry_id);
    assert_eq!(message["messageId"], message_id.as_str());
    assert_eq!(message["message_id"], message_id.as_str());
    let publish_time = message["publishTime"].as_str().unwrap();
    assert_eq!(message["publish_time"], publish_time);
    let published: DateTime<Utc> = publish_time.parse().unwrap();
    assert!(
        (Utc::now() - published).num_seconds().abs() < 60,
        "{publish_time}"
    );

    let attributes: BTreeMap<String, String> = request
        .attributes()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        attributes,
        BTreeMap::from([
            (
                "event_id".into(),
                "0198f3a2-0000-7000-8000-000000000001".into()
            ),
            ("event_type".into(), "CampanaCreada".into()),
            ("correlation_id".into(), "camp-1".into()),
            ("pulsar_topic".into(), topic.clone()),
            ("pulsar_message_id".into(), message_id.clone()),
            ("pulsar_key".into(), "camp-1".into()),
            ("pulsar_publish_time".into(), publish_time.to_owned()),
        ])
    );

    let http = reqwest::Client::new();
    assert_eq!(
        http.get(bridge.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = http.get(bridge.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["routes"][0]["connected"], true);
    let response = http.get(bridge.url("/metrics")).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let metrics = response.text().await.unwrap();
    let name = format!("{}/generate-report", short(&topic));
    assert_eq!(
        metric(&metrics, "pulsar_bridge_delivered_total", &name),
        1.0
    );
    assert_eq!(
        metric(&metrics, "pulsar_bridge_failed_attempts_total", &name),
        0.0
    );
    assert_eq!(metric(&metrics, "pulsar_bridge_in_flight", &name), 0.0);
    assert_eq!(metric(&metrics, "pulsar_bridge_connected", &name), 1.0);
    assert_eq!(
        metric(
            &metrics,
            "pulsar_bridge_delivery_latency_seconds_count",
            &name
        ),
        1.0
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_backoff_then_delivers_with_a_stable_identity() {
    let target = Target::start(|_, nth| Reply::status(if nth < 3 { 500 } else { 200 })).await;
    let topic = unique_topic("retry");
    let mut route = route(&topic, "create-campaign", &target.events_url());
    route.backoff = Backoff {
        initial: Duration::from_millis(300),
        max: Duration::from_secs(2),
    };
    let retry_topic = route.retry_topic();
    let bridge = Bridge::start(config(vec![route])).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    producer
        .send(Outgoing::text("hello").key("k").property("event_type", "X"))
        .await;

    target
        .wait_for(LONG, "three attempts", |requests| requests.len() >= 3)
        .await;
    wait_acknowledged(&topic, "create-campaign", LONG).await;
    wait_acknowledged(&retry_topic, "create-campaign", LONG).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = target.requests();
    assert_eq!(requests.len(), 3);
    let attempts: Vec<_> = requests.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    for request in &requests[1..] {
        assert_eq!(
            request.body["message"]["messageId"],
            requests[0].body["message"]["messageId"]
        );
        assert_eq!(
            request.body["message"]["publishTime"],
            requests[0].body["message"]["publishTime"]
        );
        assert_eq!(
            request.attributes(),
            requests[0].attributes(),
            "same attributes on every attempt"
        );
        assert_eq!(request.payload, b"hello");
    }
    assert_eq!(requests[0].attributes()["pulsar_topic"], topic.as_str());
    // Backoff 300 ms, then jittered between 300 and 600 ms (the broker's delayed delivery is
    // coarse; the bridge waits out the rest).
    let first_gap = requests[1].at - requests[0].at;
    let second_gap = requests[2].at - requests[1].at;
    assert!(first_gap >= Duration::from_millis(280), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(280), "{second_gap:?}");
    assert!(second_gap < Duration::from_secs(5), "{second_gap:?}");

    let metrics = bridge.metrics().await;
    let name = format!("{}/create-campaign", short(&topic));
    assert_eq!(
        metric(&metrics, "pulsar_bridge_failed_attempts_total", &name),
        2.0
    );
    assert_eq!(
        metric(&metrics, "pulsar_bridge_retries_scheduled_total", &name),
        2.0
    );
    assert_eq!(
        metric(&metrics, "pulsar_bridge_delivered_total", &name),
        1.0
    );
    assert_eq!(
        metric(&metrics, "pulsar_bridge_dead_lettered_total", &name),
        0.0
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_4xx_5xx_and_timeouts_after_the_last_attempt() {
    let target = Target::start(|text, _| match text {
        "bad-request" => Reply::status(400).body("{\"title\": \"unreadable envelope\"}"),
        "server-error" => Reply::status(500),
        _ => Reply::status(200).after(Duration::from_secs(2)),
    })
    .await;
    let cases = [
        (
            "bad-request",
            "HTTP 400 Bad Request: {\"title\": \"unreadable envelope\"}",
        ),
        ("server-error", "HTTP 500 Internal Server Error"),
        ("slow", "timed out after 300ms"),
    ];
    let mut routes = Vec::new();
    let mut topics = Vec::new();
    for (case, _) in cases {
        let topic = unique_topic(case);
        let mut route = route(&topic, "send-contract", &target.events_url());
        route.max_attempts = 3;
        route.timeout = Duration::from_millis(300);
        topics.push((topic, route.dead_letter_topic()));
        routes.push(route);
    }
    let bridge = Bridge::start(config(routes)).await;
    let pulsar = client().await;
    for ((case, _), (topic, _)) in cases.iter().zip(&topics) {
        TestProducer::new(&pulsar, topic)
            .await
            .send(
                Outgoing::text(case)
                    .key(&format!("key-{case}"))
                    .property("event_id", &format!("id-{case}")),
            )
            .await;
    }
    for ((case, error), (topic, dead_letter_topic)) in cases.iter().zip(&topics) {
        let letters = read_exactly(
            &pulsar,
            dead_letter_topic,
            1,
            LONG,
            Duration::from_millis(500),
        )
        .await;
        let letter = &letters[0];
        assert_eq!(letter.payload.data, case.as_bytes());
        assert_eq!(
            letter.key().as_deref(),
            Some(format!("key-{case}").as_str())
        );
        let properties = properties(letter);
        let pushes = target.requests_for(case);
        // A 400 (the envelope cannot be read) is dead-lettered at once; the rest after the
        // last attempt.
        let attempts: &[u64] = if *case == "bad-request" {
            &[1]
        } else {
            &[1, 2, 3]
        };
        assert_eq!(
            pushes.iter().map(|r| r.attempt).collect::<Vec<_>>(),
            attempts,
            "{case}"
        );
        let origin_id = pushes[0].message_id.clone();
        assert!(pushes.iter().all(|push| push.message_id == origin_id));
        assert_eq!(properties["event_id"], format!("id-{case}"));
        assert_eq!(
            properties["bridge_attempts"],
            attempts.len().to_string(),
            "{case}"
        );
        assert_eq!(properties["bridge_last_error"], *error, "{case}");
        assert_eq!(properties["bridge_origin_topic"], *topic);
        assert_eq!(properties["bridge_origin_message_id"], origin_id);
        assert_eq!(properties["bridge_subscription"], "send-contract");
        assert!(properties.contains_key("bridge_dead_lettered_at"));
        assert!(!properties.contains_key("bridge_not_before"));
        wait_acknowledged(topic, "send-contract", LONG).await;
        let metrics = bridge.metrics().await;
        let name = format!("{}/send-contract", short(topic));
        assert_eq!(
            metric(&metrics, "pulsar_bridge_dead_lettered_total", &name),
            1.0
        );
        assert_eq!(
            metric(&metrics, "pulsar_bridge_failed_attempts_total", &name),
            attempts.len() as f64
        );
        assert_eq!(
            metric(&metrics, "pulsar_bridge_delivered_total", &name),
            0.0
        );
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honours_retry_after_in_seconds_and_as_a_date_up_to_the_max_backoff() {
    let target = Target::start(|text, nth| {
        if nth > 1 {
            return Reply::status(200);
        }
        match text {
            "seconds" => Reply::status(503).header("retry-after", "2"),
            "date" => {
                let due = Utc::now() + chrono::Duration::seconds(3);
                Reply::status(429).header(
                    "retry-after",
                    due.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                )
            }
            _ => Reply::status(503).header("retry-after", "3600"),
        }
    })
    .await;
    let topic = unique_topic("retry-after");
    let mut route = route(&topic, "generate-report", &target.events_url());
    route.backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(3),
    };
    let bridge = Bridge::start(config(vec![route])).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    for text in ["seconds", "date", "capped"] {
        producer.send(Outgoing::text(text)).await;
    }
    target
        .wait_for(LONG, "two pushes of each message", |requests| {
            requests.len() >= 6
        })
        .await;
    let gap = |text: &str| {
        let pushes = target.requests_for(text);
        assert_eq!(pushes.len(), 2, "{text}");
        pushes[1].at - pushes[0].at
    };
    // Retry-After: 2 instead of the 100 ms backoff.
    let seconds = gap("seconds");
    assert!(
        seconds >= Duration::from_millis(1900) && seconds < Duration::from_secs(6),
        "{seconds:?}"
    );
    // An HTTP date about 3 s ahead, with whole seconds.
    let date = gap("date");
    assert!(
        date >= Duration::from_millis(1500) && date < Duration::from_secs(7),
        "{date:?}"
    );
    // Retry-After: 3600, capped by the 3 s maximum backoff.
    let capped = gap("capped");
    assert!(
        capped >= Duration::from_millis(2900) && capped < Duration::from_secs(7),
        "{capped:?}"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_exceeds_the_route_concurrency() {
    let target = Target::start(|_, _| Reply::status(200).after(Duration::from_millis(100))).await;
    let topic = unique_topic("concurrency");
    let mut route = route(&topic, "generate-report", &target.events_url());
    route.concurrency = 3;
    let bridge = Bridge::start(config(vec![route])).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    for n in 0..30 {
        producer.send(Outgoing::text(&format!("m{n}"))).await;
    }
    wait_until(LONG, "30 deliveries", || target.delivered().len() == 30).await;
    assert_eq!(target.state.max_in_flight.load(Ordering::SeqCst), 3);
    wait_acknowledged(&topic, "generate-report", LONG).await;
    let metrics = bridge.metrics().await;
    let name = format!("{}/generate-report", short(&topic));
    assert_eq!(metric(&metrics, "pulsar_bridge_pushing", &name), 0.0);
    assert_eq!(metric(&metrics, "pulsar_bridge_in_flight", &name), 0.0);
    assert_eq!(
        metric(&metrics, "pulsar_bridge_delivered_total", &name),
        30.0
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_per_key_order_when_enabled() {
    const KEYS: usize = 4;
    const PER_KEY: usize = 8;
    // Every third message fails its first attempt: it must hold its key's later messages.
    let target = Target::start(|text, nth| {
        let seq: usize = text.rsplit(':').next().unwrap().parse().unwrap();
        if seq % 3 == 1 && nth == 1 {
            Reply::status(503)
        } else {
            Reply::status(200).after(Duration::from_millis(20))
        }
    })
    .await;
    let topic = unique_topic("ordered");
    let mut route = route(&topic, "generate-report", &target.events_url());
    route.ordered_by_key = true;
    route.max_attempts = 10;
    let bridge = Bridge::start(config(vec![route])).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    for seq in 0..PER_KEY {
        for key in 0..KEYS {
            producer
                .send(Outgoing::text(&format!("k{key}:{seq}")).key(&format!("k{key}")))
                .await;
        }
    }
    wait_until(LONG, "every message delivered", || {
        target.delivered().len() == KEYS * PER_KEY
    })
    .await;
    assert_eq!(
        target.state.key_overlaps.load(Ordering::SeqCst),
        0,
        "two pushes of one key at once"
    );
    let requests = target.requests();
    for key in 0..KEYS {
        let key = format!("k{key}");
        let sequence: Vec<(usize, u16)> = requests
            .iter()
            .filter(|request| request.key.as_deref() == Some(key.as_str()))
            .map(|request| {
                (
                    request.text().rsplit(':').next().unwrap().parse().unwrap(),
                    request.status,
                )
            })
            .collect();
        let delivered: Vec<usize> = sequence
            .iter()
            .filter(|(_, status)| *status == 200)
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(
            delivered,
            (0..PER_KEY).collect::<Vec<_>>(),
            "{key}: {sequence:?}"
        );
        // Attempts too: no message is pushed before the previous one is delivered.
        assert!(
            sequence.windows(2).all(|pair| pair[0].0 <= pair[1].0),
            "{key}: {sequence:?}"
        );
    }
    assert!(
        target.state.max_in_flight.load(Ordering::SeqCst) >= 2,
        "keys are pushed in parallel"
    );
    wait_acknowledged(&topic, "generate-report", LONG).await;
    bridge.stop().await;
}

/// Publishes one message that always fails, lets bridge A make two attempts, kills it, and
/// checks that bridge B makes only the remaining two before dead-lettering it.
async fn attempt_count_survives_a_bridge_restart(ordered: bool) {
    let target = Target::start(|_, _| Reply::status(500)).await;
    let topic = unique_topic(if ordered {
        "restart-ordered"
    } else {
        "restart-shared"
    });
    let mut route = route(&topic, "compensate-report", &target.events_url());
    route.ordered_by_key = ordered;
    route.max_attempts = 4;
    route.backoff = Backoff {
        initial: Duration::from_millis(1500),
        max: Duration::from_millis(1500),
    };
    let dead_letter_topic = route.dead_letter_topic();
    let retry_topic = route.retry_topic();
    let first = Bridge::start(config(vec![route.clone()])).await;
    let pulsar = client().await;
    TestProducer::new(&pulsar, &topic)
        .await
        .send(Outgoing::text("poison").key("k1"))
        .await;
    target
        .wait_for(LONG, "two attempts", |requests| requests.len() >= 2)
        .await;
    // Attempt 2 failed: its record (retry copy or ledger entry) is written within
    // milliseconds; kill the bridge during the 1.5 s backoff.
    tokio::time::sleep(Duration::from_millis(400)).await;
    if !ordered {
        // The second retry copy waits for its delivery time, the first one is acknowledged.
        let deadline = Instant::now() + Duration::from_secs(5);
        while subscription_stats(&retry_topic, "compensate-report").await != Some((1, 0)) {
            assert!(Instant::now() < deadline, "the retry copy was not settled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    first.kill().await;
    assert_eq!(target.requests().len(), 2);

    let second = Bridge::start(config(vec![route])).await;
    let letters = read_exactly(
        &pulsar,
        &dead_letter_topic,
        1,
        LONG,
        Duration::from_millis(500),
    )
    .await;
    let properties = properties(&letters[0]);
    assert_eq!(properties["bridge_attempts"], "4");
    assert_eq!(
        properties["bridge_last_error"],
        "HTTP 500 Internal Server Error"
    );
    let attempts: Vec<_> = target.requests().iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4], "the second bridge went on counting");
    wait_acknowledged(&topic, "compensate-report", LONG).await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_count_survives_a_bridge_restart_with_the_retry_topic() {
    attempt_count_survives_a_bridge_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_count_survives_a_bridge_restart_with_the_attempt_ledger() {
    attempt_count_survives_a_bridge_restart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_killed_mid_delivery_loses_nothing() {
    let target = Target::start(|_, _| Reply::status(200).after(Duration::from_millis(150))).await;
    let topic = unique_topic("killed");
    let route = route(&topic, "register-influencer", &target.events_url());
    let first = Bridge::start(config(vec![route.clone()])).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    for n in 0..40 {
        producer.send(Outgoing::text(&format!("m{n}"))).await;
    }
    target
        .wait_for(LONG, "some pushes", |requests| requests.len() >= 8)
        .await;
    first.kill().await;
    let before = target.delivered().len();
    assert!(before < 40, "killed before the end ({before} delivered)");

    let second = Bridge::start(config(vec![route])).await;
    wait_until(LONG, "all 40 messages delivered", || {
        target.delivered().len() == 40
    })
    .await;
    wait_acknowledged(&topic, "register-influencer", LONG).await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_pushes_finish_and_leaves_the_rest_to_redelivery() {
    let target = Target::start(|_, _| Reply::status(200).after(Duration::from_millis(1000))).await;
    let topic = unique_topic("drain");
    let mut route = route(&topic, "generate-report", &target.events_url());
    route.concurrency = 3;
    let first = Bridge::start(config(vec![route.clone()])).await;
    let pulsar = client().await;
    let mut producer = TestProducer::new(&pulsar, &topic).await;
    for n in 0..6 {
        producer.send(Outgoing::text(&format!("m{n}"))).await;
    }
    target
        .wait_for(LONG, "three pushes under way", |requests| {
            requests.len() == 3
        })
        .await;
    let stopping = Instant::now();
    first.stop().await;
    assert!(
        stopping.elapsed() >= Duration::from_millis(500),
        "it waited for the pushes"
    );
    assert_eq!(
        target.state.completed.load(Ordering::SeqCst),
        3,
        "in-flight pushes finished"
    );
    assert_eq!(
        target.requests().len(),
        3,
        "nothing new was pulled while draining"
    );
    // The three finished pushes were acknowledged before the bridge stopped; the three
    // others wait in the subscription.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = subscription_stats(&topic, "generate-report").await;
        if stats == Some((3, 0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "(backlog, unacked) after the drain: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let second = Bridge::start(config(vec![route])).await;
    wait_until(LONG, "the remaining messages", || {
        target.delivered().len() == 6
    })
    .await;
    wait_acknowledged(&topic, "generate-report", LONG).await;
    assert_eq!(target.requests().len(), 6, "no message was pushed twice");
    second.stop().await;
}

#[derive(Default)]
struct MetadataServer {
    audiences: Mutex<Vec<String>>,
    rejected: AtomicUsize,
}

fn fake_id_token(audience: &str) -> String {
    let exp = Utc::now().timestamp() + 3600;
    format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(format!(r#"{{"aud":"{audience}","exp":{exp}}}"#))
    )
}

async fn identity(
    State(server): State<Arc<MetadataServer>>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> (StatusCode, String) {
    if headers.get("metadata-flavor").map(|v| v.as_bytes()) != Some(b"Google")
        || query.get("format").map(String::as_str) != Some("full")
    {
        server.rejected.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::FORBIDDEN, "missing Metadata-Flavor".into());
    }
    let audience = query.get("audience").cloned().unwrap_or_default();
    server.audiences.lock().unwrap().push(audience.clone());
    (StatusCode::OK, fake_id_token(&audience))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_server_id_tokens_are_per_audience_and_cached() {
    let server = Arc::new(MetadataServer::default());
    let app = Router::new()
        .route(
            "/computeMetadata/v1/instance/service-accounts/default/identity",
            get(identity),
        )
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metadata_host = listener.local_addr().unwrap().to_string();
    let metadata = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let target = Target::start(|_, _| Reply::status(200)).await;
    let first_topic = unique_topic("oidc-a");
    let second_topic = unique_topic("oidc-b");
    let mut custom = route(&second_topic, "generate-report", &target.events_url());
    custom.audience = "https://generate-report.example.run.app".into();
    let mut config = config(vec![
        route(&first_topic, "generate-report", &target.events_url()),
        custom,
    ]);
    config.push_auth = PushAuth::Metadata {
        host: metadata_host,
    };
    let bridge = Bridge::start(config).await;
    let pulsar = client().await;
    let mut first = TestProducer::new(&pulsar, &first_topic).await;
    let mut second = TestProducer::new(&pulsar, &second_topic).await;
    for n in 0..3 {
        first.send(Outgoing::text(&format!("a{n}"))).await;
        second.send(Outgoing::text(&format!("b{n}"))).await;
    }
    wait_until(LONG, "six deliveries", || target.delivered().len() == 6).await;
    let mut audiences = server.audiences.lock().unwrap().clone();
    audiences.sort();
    assert_eq!(
        audiences,
        [
            target.base_url.clone(),
            "https://generate-report.example.run.app".to_owned()
        ],
        "one token per audience, then the cache"
    );
    assert_eq!(server.rejected.load(Ordering::SeqCst), 0);
    for request in target.requests() {
        let audience = if request.text().starts_with('a') {
            target.base_url.clone()
        } else {
            "https://generate-report.example.run.app".to_owned()
        };
        let header = request.headers["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        let token = header.strip_prefix("Bearer ").unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["aud"], audience.as_str());
    }
    bridge.stop().await;
    metadata.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_the_broker_is_unreachable() {
    let target = Target::start(|_, _| Reply::status(200)).await;
    let mut config = config(vec![route(
        &unique_topic("unreachable"),
        "s",
        &target.events_url(),
    )]);
    // Nothing listens on port 1.
    config.pulsar_url = "pulsar://127.0.0.1:1".into();
    let shutdown = pulsar_bridge::CancellationToken::new();
    let running = pulsar_bridge::start(config, shutdown.clone())
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", running.address.port());
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..2 {
        let ready = http.get(format!("{base}/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["ready"], false);
        assert_eq!(body["routes"][0]["connected"], false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    shutdown.cancel();
    within(
        Duration::from_secs(15),
        "the bridge to stop",
        running.stopped(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_messages_are_acknowledged_once_all_are_settled() {
    // The first message of the batch fails once: the batch's entry must stay unacknowledged
    // until its retry copy is published, and every message is delivered.
    let target =
        Target::start(|text, nth| Reply::status(if text == "b0" && nth == 1 { 500 } else { 200 }))
            .await;
    let topic = unique_topic("batch");
    let bridge = Bridge::start(config(vec![route(
        &topic,
        "generate-report",
        &target.events_url(),
    )]))
    .await;
    let pulsar = client().await;
    let mut producer = TestProducer::with_options(
        &pulsar,
        &topic,
        pulsar::producer::ProducerOptions {
            batch_size: Some(5),
            ..Default::default()
        },
    )
    .await;
    let mut receipts = Vec::new();
    for n in 0..5 {
        receipts.push(
            producer
                .send_batched(Outgoing::text(&format!("b{n}")))
                .await,
        );
    }
    for receipt in receipts {
        within(LONG, "a batched receipt", receipt)
            .await
            .expect("batched send");
    }
    wait_until(LONG, "five deliveries", || target.delivered().len() == 5).await;
    wait_acknowledged(&topic, "generate-report", LONG).await;
    let ids: BTreeSet<String> = target
        .requests()
        .iter()
        .map(|r| r.message_id.clone())
        .collect();
    assert_eq!(
        ids.len(),
        5,
        "each message of the batch has its own id: {ids:?}"
    );
    assert!(
        ids.iter().all(|id| !id.ends_with(":-1")),
        "batch indexes are in the ids: {ids:?}"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared broker; run alone: cargo test -p pulsar-bridge --test delivery -- --ignored broker_restart"]
async fn broker_restart_under_load_loses_nothing() {
    const MESSAGES: usize = 300;
    let target = Target::start(|text, _| {
        if text == "poison" {
            Reply::status(500)
        } else {
            Reply::status(200).after(Duration::from_millis(5))
        }
    })
    .await;
    let topic = unique_topic("broker-restart");
    let mut route = route(&topic, "generate-report", &target.events_url());
    route.concurrency = 8;
    route.max_attempts = 6;
    route.backoff = Backoff {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(4),
    };
    let dead_letter_topic = route.dead_letter_topic();
    let bridge = Bridge::start(config(vec![route])).await;

    // A producer that keeps publishing through the restart, retrying each message until
    // the broker takes it.
    let producing = tokio::spawn({
        let topic = topic.clone();
        async move {
            let pulsar = client().await;
            let mut producer = pulsar.producer().with_topic(&topic).build_multi_topic();
            for n in 0..=MESSAGES {
                let text = if n == 0 {
                    "poison".to_owned()
                } else {
                    format!("m{n}")
                };
                let deadline = Instant::now() + Duration::from_secs(240);
                loop {
                    let sent = async {
                        producer
                            .send_non_blocking(&topic, text.clone().into_bytes())
                            .await?
                            .await
                    }
                    .await;
                    if sent.is_ok() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "cannot publish {text}: {sent:?}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    target
        .wait_for(LONG, "the load to start", |requests| requests.len() >= 60)
        .await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pulsar.sh");
    let run = |action: &'static str| async move {
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new(script).arg(action).status()
        })
        .await
        .unwrap()
        .expect("run scripts/pulsar.sh");
        assert!(status.success(), "scripts/pulsar.sh {action} failed");
    };
    within(Duration::from_secs(120), "the broker to stop", run("stop")).await;
    let restarted_at = Instant::now();
    wait_until(Duration::from_secs(30), "/ready to notice", || {
        !bridge.running.is_ready()
    })
    .await;
    within(
        Duration::from_secs(300),
        "the broker to start",
        run("start"),
    )
    .await;

    within(Duration::from_secs(300), "the producer", producing)
        .await
        .unwrap();
    let expected: BTreeSet<String> = (1..=MESSAGES).map(|n| format!("m{n}")).collect();
    wait_until(Duration::from_secs(240), "every message delivered", || {
        target.delivered().is_superset(&expected)
    })
    .await;
    wait_until(
        Duration::from_secs(120),
        "the bridge to be ready again",
        || bridge.running.is_ready(),
    )
    .await;
    wait_acknowledged(&topic, "generate-report", Duration::from_secs(120)).await;

    // The poison message went on counting across the restart, and was dead-lettered at 6.
    let pulsar = client().await;
    let letters = read_exactly(
        &pulsar,
        &dead_letter_topic,
        1,
        Duration::from_secs(120),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(properties(&letters[0])["bridge_attempts"], "6");
    let poison = target.requests_for("poison");
    let after_restart: Vec<u64> = poison
        .iter()
        .filter(|request| request.at > restarted_at)
        .map(|request| request.attempt)
        .collect();
    assert!(
        !after_restart.is_empty() && after_restart.iter().all(|attempt| *attempt > 1),
        "attempts after the restart: {after_restart:?} (all: {:?})",
        poison.iter().map(|r| r.attempt).collect::<Vec<_>>()
    );
    assert!(poison.iter().all(|request| request.attempt <= 6));
    bridge.stop().await;
}
