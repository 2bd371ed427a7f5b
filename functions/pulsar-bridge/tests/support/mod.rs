//! Test support: a scriptable HTTP target, Pulsar helpers against the real broker, an
//! in-process bridge, and bounded waits.
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use futures::StreamExt;
use pulsar::{
    Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor, consumer::InitialPosition,
    producer::ProducerOptions, proto,
};
use pulsar_bridge::{
    CancellationToken, RunningBridge,
    config::{Backoff, BridgeConfig, PushAuth, RouteConfig, RouteDefaults, Secret},
};

pub const TOKEN: &str = "test-push-token";

pub fn pulsar_url() -> String {
    std::env::var("PULSAR_URL").unwrap_or_else(|_| "pulsar://127.0.0.1:6650".to_owned())
}

pub fn admin_url() -> String {
    std::env::var("PULSAR_ADMIN_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned())
}

/// Runs `future`, failing the test after `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Polls `check` every 25 ms until it holds, failing the test after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A fresh topic name, so concurrent tests never share a topic.
pub fn unique_topic(prefix: &str) -> String {
    format!(
        "persistent://public/default/bridge-{prefix}-{}",
        uuid::Uuid::new_v4().simple()
    )
}

// ---------------------------------------------------------------------------------------
// The HTTP target

/// One push request the target received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// `message.data`, decoded.
    pub payload: Vec<u8>,
    pub attempt: u64,
    pub message_id: String,
    pub key: Option<String>,
    /// How the target answered.
    pub status: u16,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }

    pub fn attributes(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.body["message"]["attributes"].as_object().unwrap()
    }
}

/// What the target answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            delay: Duration::ZERO,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }
}

/// Decides the answer from the payload text and the how-many-th request of that message
/// (by `messageId`, 1-based) this is.
pub type Behaviour = dyn Fn(&str, usize) -> Reply + Send + Sync;

pub struct TargetState {
    behaviour: Box<Behaviour>,
    pub requests: Mutex<Vec<Received>>,
    per_message: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    in_flight_keys: Mutex<HashMap<String, usize>>,
    /// Requests that arrived while another request of the same key was under way.
    pub key_overlaps: AtomicUsize,
    pub completed: AtomicUsize,
}

/// A small HTTP app on a free loopback port, answering pushes as its behaviour says.
pub struct Target {
    pub base_url: String,
    pub state: Arc<TargetState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Target {
    pub async fn start(behaviour: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Self {
        let state = Arc::new(TargetState {
            behaviour: Box::new(behaviour),
            requests: Mutex::new(Vec::new()),
            per_message: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            in_flight_keys: Mutex::new(HashMap::new()),
            key_overlaps: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/events", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url: format!("http://{address}"),
            state,
            server,
        }
    }

    pub fn events_url(&self) -> String {
        format!("{}/events", self.base_url)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests whose payload text is `text`, in arrival order.
    pub fn requests_for(&self, text: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|request| request.text() == text)
            .collect()
    }

    /// Distinct payloads answered with a 2xx.
    pub fn delivered(&self) -> std::collections::BTreeSet<String> {
        self.requests()
            .into_iter()
            .filter(|request| (200..300).contains(&request.status))
            .map(|request| request.text())
            .collect()
    }

    pub async fn wait_for(&self, limit: Duration, what: &str, check: impl Fn(&[Received]) -> bool) {
        wait_until(limit, what, || check(&self.state.requests.lock().unwrap())).await;
    }
}

async fn receive(
    State(state): State<Arc<TargetState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let payload = STANDARD
        .decode(body["message"]["data"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let message_id = body["message"]["messageId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = body["message"]["attributes"]["pulsar_key"]
        .as_str()
        .map(str::to_owned);
    let nth = {
        let mut per_message = state.per_message.lock().unwrap();
        let count = per_message.entry(message_id.clone()).or_default();
        *count += 1;
        *count
    };
    let text = String::from_utf8_lossy(&payload).into_owned();
    let reply = (state.behaviour)(&text, nth);
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if let Some(key) = &key {
        let mut keys = state.in_flight_keys.lock().unwrap();
        let count = keys.entry(key.clone()).or_default();
        if *count > 0 {
            state.key_overlaps.fetch_add(1, Ordering::SeqCst);
        }
        *count += 1;
    }
    state.requests.lock().unwrap().push(Received {
        at,
        headers,
        attempt: body["deliveryAttempt"].as_u64().unwrap_or_default(),
        body,
        payload,
        message_id,
        key: key.clone(),
        status: reply.status,
    });
    tokio::time::sleep(reply.delay).await;
    if let Some(key) = &key {
        *state.in_flight_keys.lock().unwrap().get_mut(key).unwrap() -= 1;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    state.completed.fetch_add(1, Ordering::SeqCst);
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

// ---------------------------------------------------------------------------------------
// Pulsar

pub async fn client() -> Pulsar<TokioExecutor> {
    within(
        Duration::from_secs(30),
        "a Pulsar connection",
        Pulsar::builder(pulsar_url(), TokioExecutor).build(),
    )
    .await
    .expect("connect to Pulsar (start it with scripts/pulsar.sh start)")
}

/// A message to publish.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub payload: Vec<u8>,
    pub key: Option<String>,
    pub properties: BTreeMap<String, String>,
}

impl Outgoing {
    pub fn text(text: &str) -> Self {
        Self {
            payload: text.as_bytes().to_vec(),
            ..Self::default()
        }
    }

    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub fn property(mut self, name: &str, value: &str) -> Self {
        self.properties.insert(name.to_owned(), value.to_owned());
        self
    }
}

pub struct TestProducer {
    producer: pulsar::Producer<TokioExecutor>,
}

impl TestProducer {
    pub async fn new(pulsar: &Pulsar<TokioExecutor>, topic: &str) -> Self {
        Self::with_options(pulsar, topic, ProducerOptions::default()).await
    }

    /// A producer that registers `schema_json` as the topic's AVRO schema.
    pub async fn avro(
        pulsar: &Pulsar<TokioExecutor>,
        topic: &str,
        record: &str,
        schema_json: &str,
    ) -> Self {
        let options = ProducerOptions {
            schema: Some(proto::Schema {
                name: record.into(),
                schema_data: schema_json.as_bytes().to_vec(),
                r#type: proto::schema::Type::Avro as i32,
                properties: vec![],
            }),
            ..Default::default()
        };
        Self::with_options(pulsar, topic, options).await
    }

    pub async fn with_options(
        pulsar: &Pulsar<TokioExecutor>,
        topic: &str,
        options: ProducerOptions,
    ) -> Self {
        let producer = within(
            Duration::from_secs(30),
            "a producer",
            pulsar
                .producer()
                .with_topic(topic)
                .with_options(options)
                .build(),
        )
        .await
        .expect("create a producer");
        Self { producer }
    }

    /// Publishes and waits for the broker's receipt; returns the message id as the bridge
    /// formats it (`ledger:entry:partition:batch`).
    pub async fn send(&mut self, message: Outgoing) -> proto::MessageIdData {
        let mut builder = self.producer.create_message().with_content(message.payload);
        if let Some(key) = message.key {
            builder = builder.with_key(key);
        }
        for (name, value) in &message.properties {
            builder = builder.with_property(name, value);
        }
        let receipt = within(Duration::from_secs(30), "a send receipt", async {
            builder.send_non_blocking().await?.await
        })
        .await
        .expect("the broker took the message");
        receipt.message_id.expect("a message id in the receipt")
    }

    /// Hands the message to the producer without waiting for its receipt (a batching
    /// producer sends when its batch is full).
    pub async fn send_batched(&mut self, message: Outgoing) -> pulsar::producer::SendFuture {
        let mut builder = self.producer.create_message().with_content(message.payload);
        if let Some(key) = message.key {
            builder = builder.with_key(key);
        }
        within(
            Duration::from_secs(30),
            "the producer",
            builder.send_non_blocking(),
        )
        .await
        .expect("the producer took the message")
    }
}

/// Subscribes a test reader (its own subscription, from the earliest message).
pub async fn subscribe(
    pulsar: &Pulsar<TokioExecutor>,
    topic: &str,
) -> Consumer<Vec<u8>, TokioExecutor> {
    within(
        Duration::from_secs(30),
        "a test subscription",
        pulsar
            .consumer()
            .with_topic(topic)
            .with_subscription(format!("test-reader-{}", uuid::Uuid::new_v4().simple()))
            .with_subscription_type(SubType::Exclusive)
            .with_options(
                ConsumerOptions::default().with_initial_position(InitialPosition::Earliest),
            )
            .build(),
    )
    .await
    .expect("subscribe")
}

/// Reads exactly `count` messages from `topic` (within `limit`), then checks that no more
/// arrive within `quiet`.
pub async fn read_exactly(
    pulsar: &Pulsar<TokioExecutor>,
    topic: &str,
    count: usize,
    limit: Duration,
    quiet: Duration,
) -> Vec<pulsar::consumer::Message<Vec<u8>>> {
    let mut consumer = subscribe(pulsar, topic).await;
    let mut messages = Vec::new();
    while messages.len() < count {
        let message = within(
            limit,
            &format!("message {} on {topic}", messages.len() + 1),
            consumer.next(),
        )
        .await
        .expect("the consumer stopped")
        .expect("read a message");
        consumer.ack(&message).await.unwrap();
        messages.push(message);
    }
    if let Ok(Some(extra)) = tokio::time::timeout(quiet, consumer.next()).await {
        let extra = extra.unwrap();
        panic!(
            "more than {count} messages on {topic}: {:?} {:?}",
            extra.metadata().properties,
            String::from_utf8_lossy(&extra.payload.data)
        );
    }
    messages
}

pub fn properties(message: &pulsar::consumer::Message<Vec<u8>>) -> BTreeMap<String, String> {
    message
        .metadata()
        .properties
        .iter()
        .map(|pair| (pair.key.clone(), pair.value.clone()))
        .collect()
}

/// The subscription's backlog and unacknowledged count, from the admin API.
pub async fn subscription_stats(topic: &str, subscription: &str) -> Option<(u64, u64)> {
    let path = topic.strip_prefix("persistent://").unwrap();
    let stats: serde_json::Value =
        reqwest::get(format!("{}/admin/v2/persistent/{path}/stats", admin_url()))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
    let subscription = &stats["subscriptions"][subscription];
    Some((
        subscription["msgBacklog"].as_u64()?,
        subscription["unackedMessages"].as_u64()?,
    ))
}

/// Waits until every message of the subscription is acknowledged.
pub async fn wait_acknowledged(topic: &str, subscription: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let stats = subscription_stats(topic, subscription).await;
        if stats == Some((0, 0)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} / {subscription} still has (backlog, unacked) = {stats:?} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The bridge

/// A route with short test timings: backoff 100 ms doubling to 400 ms, 5 attempts,
/// concurrency 4, 2 s push timeout.
pub fn route(topic: &str, subscription: &str, url: &str) -> RouteConfig {
    RouteDefaults {
        max_attempts: 5,
        retry_budget: Duration::from_secs(3600),
        backoff: Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(400),
        },
        concurrency: 4,
        receive_queue: 16,
        ordered_by_key: false,
        timeout: Duration::from_secs(2),
    }
    .route(topic, subscription, url.parse().unwrap())
}

pub fn config(routes: Vec<RouteConfig>) -> BridgeConfig {
    BridgeConfig {
        port: 0,
        pulsar_url: pulsar_url(),
        pulsar_token: None,
        push_auth: PushAuth::Static(Secret(TOKEN.to_owned())),
        routes,
        skipped_routes: vec![],
        shutdown_grace: Duration::from_secs(5),
        admin_url: None,
    }
}

pub struct Bridge {
    pub running: RunningBridge,
    pub shutdown: CancellationToken,
}

impl Bridge {
    /// Starts a bridge in-process and waits (at most 60 s) until it is ready.
    pub async fn start(config: BridgeConfig) -> Self {
        if std::env::var_os("BRIDGE_TEST_LOG").is_some() {
            alpes_shared::http::telemetry::init("pulsar-bridge-test");
        }
        let shutdown = CancellationToken::new();
        let running = pulsar_bridge::start(config, shutdown.clone())
            .await
            .expect("start the bridge");
        wait_until(Duration::from_secs(60), "the bridge to be ready", || {
            running.is_ready()
        })
        .await;
        Self { running, shutdown }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.running.address.port())
    }

    /// SIGTERM, in-process: cancel and wait (at most 20 s) for the drain.
    pub async fn stop(self) {
        self.shutdown.cancel();
        within(
            Duration::from_secs(20),
            "the bridge to stop",
            self.running.stopped(),
        )
        .await
        .expect("the bridge stopped cleanly");
    }

    /// A crash, in-process: everything dropped at once, nothing settled.
    pub async fn kill(self) {
        within(
            Duration::from_secs(10),
            "the bridge to die",
            self.running.abort(),
        )
        .await;
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The value of `family{route="<route>",...}` in a metrics text.
pub fn metric(text: &str, family: &str, route: &str) -> f64 {
    let prefix = format!("{family}{{route=\"{route}\",");
    text.lines()
        .find(|line| line.starts_with(&prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {family} for {route} in\n{text}"))
}
