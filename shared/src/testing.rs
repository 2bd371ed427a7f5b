//! Test support shared by the functions' test suites (feature `testing`, dev only).

pub mod openapi;

use std::{
    net::TcpListener,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// A function binary started on a free loopback port, killed when dropped.
pub struct RunningBinary {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
}

impl RunningBinary {
    /// Starts `path` with `PORT` set to a free port and `envs`, and waits (at most 20 s)
    /// until `GET /health` answers 200.
    pub async fn start(path: &str, envs: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .env("PORT", port.to_string())
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {path}: {error}"));
        let running = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = client
                .get(format!("{}/health", running.base_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&answer, Ok(response) if response.status() == 200) {
                return running;
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not answer GET /health with 200 within 20 s (last answer: {answer:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits (at most 10 s) for the process to exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process ignored SIGTERM for 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A function's router served on a free loopback port, against a test database.
pub struct TestApp {
    pub base_url: String,
    pub runtime: crate::http::Runtime,
    pub client: reqwest::Client,
    /// The static push token the event endpoint accepts.
    pub push_token: String,
}

/// The configuration tests run functions with: the dev services' URLs (from the
/// environment, as `make test` sets them) and a static push token.
pub fn test_config(extra: &[(&str, &str)]) -> crate::http::FunctionConfig {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "DATABASE_URL" | "PULSAR_URL" | "PUBSUB_EMULATOR_HOST"
            )
        })
        .collect();
    vars.push(("PUSH_AUTH".into(), "static".into()));
    vars.push(("PUSH_TOKEN".into(), TEST_PUSH_TOKEN.into()));
    vars.push(("RELAY_INTERVAL_MS".into(), "200".into()));
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    crate::http::FunctionConfig::from_vars(vars).expect("a valid test configuration")
}

pub const TEST_PUSH_TOKEN: &str = "test-push-token";

/// The URL of the per-test database `connect` points at (the password of
/// `DATABASE_URL`, which created it).
pub fn database_url_for(connect: &sqlx::postgres::PgConnectOptions) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set");
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL ends with /<database>");
    format!(
        "{server}/{}",
        connect.get_database().expect("a test database name")
    )
}

impl TestApp {
    /// Serves `app(runtime)` where the runtime uses the test database `connect`.
    pub async fn spawn(
        name: &'static str,
        context: crate::store::Context,
        connect: sqlx::postgres::PgConnectOptions,
        extra: &[(&str, &str)],
        app: impl FnOnce(crate::http::Runtime) -> axum::Router,
    ) -> Self {
        let mut config = test_config(extra);
        config.database.connect = connect;
        let runtime = crate::http::Runtime::new(name, config, context);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("a local address");
        let router = app(runtime.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve the app");
        });
        Self {
            base_url: format!("http://{address}"),
            runtime,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            push_token: TEST_PUSH_TOKEN.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Pushes `event` to `POST /events` as the bridge would, with the test token.
    pub async fn push(
        &self,
        event: &crate::events::IntegrationEvent,
        properties: &std::collections::BTreeMap<String, String>,
        message_id: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/events"))
            .bearer_auth(&self.push_token)
            .json(&push_envelope(event, properties, message_id))
            .send()
            .await
            .expect("push the event")
    }
}

/// The Pub/Sub push envelope the bridge sends for `event`.
pub fn push_envelope(
    event: &crate::events::IntegrationEvent,
    properties: &std::collections::BTreeMap<String, String>,
    message_id: &str,
) -> serde_json::Value {
    use base64::Engine;
    let mut attributes = properties.clone();
    attributes.insert("pulsar_topic".into(), event.topic().full_name().to_owned());
    attributes.insert("pulsar_message_id".into(), message_id.to_owned());
    serde_json::json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(event.encode().expect("encode")),
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": chrono::Utc::now().to_rfc3339(),
        },
        "subscription": "test",
        "deliveryAttempt": 1,
    })
}

/// Subscribes to `topic` from now on, with a unique subscription.
pub async fn subscribe(
    topic: crate::events::Topic,
) -> pulsar::Consumer<Vec<u8>, pulsar::TokioExecutor> {
    use pulsar::{ConsumerOptions, Pulsar, TokioExecutor, consumer::InitialPosition};
    let url = std::env::var("PULSAR_URL").unwrap_or_else(|_| "pulsar://127.0.0.1:6650".into());
    let pulsar: Pulsar<TokioExecutor> = tokio::time::timeout(
        Duration::from_secs(30),
        Box::pin(Pulsar::builder(url, TokioExecutor).build()),
    )
    .await
    .expect("Pulsar answers within 30 s")
    .expect("connect to Pulsar");
    tokio::time::timeout(
        Duration::from_secs(30),
        Box::pin(
            pulsar
                .consumer()
                .with_topic(topic.full_name())
                .with_subscription(format!("test-{}", uuid::Uuid::new_v4().simple()))
                .with_options(
                    ConsumerOptions::default().with_initial_position(InitialPosition::Latest),
                )
                .build(),
        ),
    )
    .await
    .expect("subscribed within 30 s")
    .expect("subscribe")
}

/// Waits (at most 30 s) for the message on `consumer` whose payload satisfies `wanted`,
/// acknowledging everything read. Returns the decoded event and its properties.
pub async fn receive_matching(
    consumer: &mut pulsar::Consumer<Vec<u8>, pulsar::TokioExecutor>,
    topic: crate::events::Topic,
    wanted: impl Fn(&crate::events::IntegrationEvent) -> bool,
) -> (
    crate::events::IntegrationEvent,
    std::collections::BTreeMap<String, String>,
) {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let message = consumer
                .next()
                .await
                .expect("the stream ended")
                .expect("receive");
            consumer.ack(&message).await.expect("ack");
            let Ok(event) = crate::events::IntegrationEvent::decode(topic, &message.payload.data)
            else {
                continue;
            };
            if wanted(&event) {
                let properties = message
                    .metadata()
                    .properties
                    .iter()
                    .map(|kv| (kv.key.clone(), kv.value.clone()))
                    .collect();
                return (event, properties);
            }
        }
    })
    .await
    .expect("the expected event arrived within 30 s")
}

impl TestApp {
    /// Closes the app's connections, so the per-test database is dropped at once instead
    /// of after PostgreSQL's 5 s wait for its sessions to end.
    pub async fn close(&self) {
        self.runtime.pool.close().await;
    }
}

/// Asserts `response` is a problem+json with `status` and the fields of RFC 9457, and
/// returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["type"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The `campo` of every error of a 422 problem, in order.
pub fn problem_fields(problem: &serde_json::Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("an errors array")
        .iter()
        .map(|error| error["campo"].as_str().expect("a campo"))
        .collect()
}
