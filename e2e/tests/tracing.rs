//! One trace per saga (SPEC 12): the functions and the bridge export their spans with
//! OTLP to a real Jaeger (v2 all-in-one, built by `scripts/jaeger.sh`), and its query API
//! shows a welcome saga and a compensation each as one connected trace, the trace id the
//! first request brought in its `traceparent` header, with every bridge push a child of
//! the span that published the message.
//!
//! `cargo build --bins && cargo test -p e2e --test tracing` (the services running and Go
//! installed: the first run builds Jaeger, a few minutes).

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::*;
use serde_json::{Value, json};
use uuid::Uuid;

/// Bound on building Jaeger when no earlier run has (`scripts/jaeger.sh build`).
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e is inside the repository")
        .to_path_buf()
}

/// Jaeger on free loopback ports, killed when dropped.
struct Jaeger {
    child: Child,
    ui: String,
    otlp: String,
}

impl Jaeger {
    async fn start() -> Self {
        let script = repo_root().join("scripts/jaeger.sh");
        let build = tokio::time::timeout(
            BUILD_TIMEOUT,
            tokio::process::Command::new(&script)
                .arg("build")
                .stderr(Stdio::inherit())
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("{} build: over {BUILD_TIMEOUT:?}", script.display()))
        .unwrap_or_else(|error| panic!("{}: {error}", script.display()));
        assert!(
            build.status.success(),
            "{} build failed: {}",
            script.display(),
            String::from_utf8_lossy(&build.stderr)
        );
        let binary = String::from_utf8_lossy(&build.stdout).trim().to_owned();
        let (ui, otlp) = (free_port(), free_port());
        let log = std::fs::File::create(std::env::temp_dir().join(format!("jaeger-{ui}.log")))
            .expect("a log file for Jaeger");
        let child = Command::new(&binary)
            .arg("--config")
            .arg(repo_root().join("scripts/jaeger.yaml"))
            .env("JAEGER_UI_PORT", ui.to_string())
            .env("JAEGER_OTLP_PORT", otlp.to_string())
            .env("JAEGER_QUERY_GRPC_PORT", free_port().to_string())
            .env("JAEGER_HEALTH_PORT", free_port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
        let jaeger = Self {
            child,
            ui: format!("http://127.0.0.1:{ui}"),
            otlp: format!("http://127.0.0.1:{otlp}"),
        };
        let client = http();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let answer = client
                .get(format!("{}/api/services", jaeger.ui))
                .send()
                .await;
            if matches!(&answer, Ok(response) if response.status().is_success()) {
                return jaeger;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Jaeger did not answer on {} within 60 s: {answer:?}",
                jaeger.ui
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The trace `id` as Jaeger's query API returns it (`None` while it has no span).
    async fn trace(&self, id: &str) -> Result<Trace, String> {
        let url = format!("{}/api/traces/{id}", self.ui);
        let response = http()
            .get(&url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| format!("GET {url}: {status}, {error}"))?;
        let trace = &body["data"][0];
        if !status.is_success() || trace.is_null() {
            return Err(format!("GET {url}: {status} {body}"));
        }
        Ok(Trace::new(trace))
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
struct Span {
    id: String,
    trace: String,
    operation: String,
    service: String,
    parent: Option<(String, String)>,
    tags: BTreeMap<String, Value>,
}

#[derive(Debug)]
struct Trace {
    spans: Vec<Span>,
}

impl Trace {
    fn new(trace: &Value) -> Self {
        let services: BTreeMap<&str, &str> = trace["processes"]
            .as_object()
            .map(|processes| {
                processes
                    .iter()
                    .map(|(id, process)| (id.as_str(), text(process, "serviceName")))
                    .collect()
            })
            .unwrap_or_default();
        let spans = trace["spans"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|span| Span {
                id: text(span, "spanID").to_owned(),
                trace: text(span, "traceID").to_owned(),
                operation: text(span, "operationName").to_owned(),
                service: services
                    .get(text(span, "processID"))
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
                parent: span["references"]
                    .as_array()
                    .and_then(|references| {
                        references
                            .iter()
                            .find(|reference| reference["refType"] == "CHILD_OF")
                    })
                    .map(|reference| {
                        (
                            text(reference, "traceID").to_owned(),
                            text(reference, "spanID").to_owned(),
                        )
                    }),
                tags: span["tags"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|tag| (text(tag, "key").to_owned(), tag["value"].clone()))
                    .collect(),
            })
            .collect();
        Self { spans }
    }

    fn services(&self) -> BTreeSet<&str> {
        self.spans
            .iter()
            .map(|span| span.service.as_str())
            .collect()
    }

    fn span(&self, id: &str) -> Option<&Span> {
        self.spans.iter().find(|span| span.id == id)
    }

    fn summary(&self) -> String {
        self.spans
            .iter()
            .map(|span| {
                format!(
                    "{} {} {:?} <- {:?}",
                    span.service, span.operation, span.id, span.parent
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether the trace holds everything the saga is made of: a span of every one of
    /// `services`, an event span in each consumer, and no push span still waiting for
    /// its children's export.
    fn complete(&self, services: &[&str], consumers: &[&str]) -> Result<(), String> {
        let present = self.services();
        let missing: Vec<&&str> = services
            .iter()
            .filter(|service| !present.contains(**service))
            .collect();
        if !missing.is_empty() {
            return Err(format!("no span of {missing:?} yet:\n{}", self.summary()));
        }
        for consumer in consumers {
            if !self
                .spans
                .iter()
                .any(|span| span.service == *consumer && span.operation.starts_with("handle "))
            {
                return Err(format!("no event span in {consumer} yet"));
            }
        }
        Ok(())
    }

    /// One connected trace: every span has trace id `id`, every parent but the caller's
    /// (`outside`, the span id of our own `traceparent`) is a span of the trace, each
    /// publish is a child of the transaction that wrote its outbox row, and each bridge
    /// push is a child of the publish span of the message it pushes.
    fn connected(&self, id: &str, outside: &str) -> Result<(), String> {
        let summary = self.summary();
        for span in &self.spans {
            if span.trace != id {
                return Err(format!("a span of another trace: {span:?}\n{summary}"));
            }
            let Some((parent_trace, parent)) = span.parent.clone() else {
                return Err(format!("{span:?} is a root: a new trace began\n{summary}"));
            };
            if parent_trace != id {
                return Err(format!("a parent in another trace: {span:?}\n{summary}"));
            }
            if parent == outside {
                if !span.operation.starts_with("POST ") {
                    return Err(format!(
                        "only the first request continues the caller: {span:?}\n{summary}"
                    ));
                }
                continue;
            }
            // Spans are exported when they end, the parent possibly in a later batch.
            let Some(parent) = self.span(&parent) else {
                return Err(format!(
                    "the parent of {span:?} is not in the trace\n{summary}"
                ));
            };
            // The outbox row keeps the context of the transaction that wrote it: each
            // publish (inline or by a relay sweep) hangs under that use case's span.
            if span.operation.starts_with("publish ")
                && !TRANSACTION_SPANS.contains(&parent.operation.as_str())
            {
                return Err(format!(
                    "a publish whose parent is not a use case's transaction: {span:?} <- {parent:?}\n{summary}"
                ));
            }
            if span.service == BRIDGE && span.operation.starts_with("push ") {
                if !parent.operation.starts_with("publish ") {
                    return Err(format!(
                        "a push whose parent is not a publish: {span:?} <- {parent:?}\n{summary}"
                    ));
                }
                if !span.tags.contains_key("attempt") {
                    return Err(format!("a push span without its attempt: {span:?}"));
                }
                if span.tags.get("event_id") != parent.tags.get("event_id") {
                    return Err(format!(
                        "a push and a publish of different messages: {span:?} <- {parent:?}"
                    ));
                }
            }
        }
        let pushes = self
            .spans
            .iter()
            .filter(|span| span.operation.starts_with("push "))
            .count();
        if pushes < 3 {
            return Err(format!("fewer than three pushes in a saga:\n{summary}"));
        }
        Ok(())
    }
}

/// The spans of the use cases' transactions, which write the outbox rows.
const TRANSACTION_SPANS: &[&str] = &[
    "store influencer",
    "store campaign",
    "sign contract",
    "decide contract",
    "decide report",
    "decide compensation",
];

/// A `traceparent` of our own: a new trace id, and the span id of the "caller".
fn caller() -> (String, String, String) {
    let trace = Uuid::new_v4().simple().to_string();
    let span = Uuid::new_v4().simple().to_string()[..16].to_owned();
    (format!("00-{trace}-{span}-01"), trace, span)
}

async fn post_traced(
    env: &Env,
    client: &reqwest::Client,
    url: &str,
    traceparent: &str,
    body: &Value,
) -> Value {
    let response = client
        .post(url)
        .header("traceparent", traceparent)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|error| env.fail(format!("POST {url}: {error}")));
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or_default();
    if status.as_u16() != 201 {
        env.fail(format!("POST {url}: {status} {answer}"));
    }
    answer
}

/// Waits until Jaeger holds trace `id` whole (see [`Trace::complete`] and
/// [`Trace::connected`]); fails with what it last saw.
async fn whole_trace(
    env: &Env,
    jaeger: &Jaeger,
    (id, outside): (&str, &str),
    services: &[&str],
    consumers: &[&str],
) -> Trace {
    eventually(env, &format!("trace {id} whole in Jaeger"), async || {
        let trace = jaeger.trace(id).await?;
        trace.complete(services, consumers)?;
        trace.connected(id, outside)?;
        Ok(trace)
    })
    .await
}

#[tokio::test]
async fn a_saga_and_its_compensation_are_each_one_trace_across_functions_and_bridge() {
    let jaeger = Jaeger::start().await;
    PROCESS_SETTINGS.lock().unwrap().extend([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]);
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();

    // The welcome saga, from the registration's trace.
    let (traceparent, trace_id, outside) = caller();
    let email = format!("e2e-{}@example.com", Uuid::new_v4().simple());
    let influencer = post_traced(
        &env,
        &client,
        &env.url(REGISTER_INFLUENCER, "/influencers"),
        &traceparent,
        &json!({"nombre": "Tara E2E", "email": email, "categorias": ["moda"]}),
    )
    .await;
    let influencer = Influencer {
        id: text(&influencer, "id").to_owned(),
        nombre: "Tara E2E".to_owned(),
        email,
    };
    the_welcome_saga(&env, &client, &influencer).await;
    let saga = whole_trace(
        &env,
        &jaeger,
        (&trace_id, &outside),
        &[
            REGISTER_INFLUENCER,
            BRIDGE,
            CREATE_CAMPAIGN,
            SEND_CONTRACT,
            GENERATE_REPORT,
        ],
        &[CREATE_CAMPAIGN, SEND_CONTRACT, GENERATE_REPORT],
    )
    .await;
    assert!(
        saga.services().contains(GENERATE_REPORT),
        "{}",
        saga.summary()
    );
    eprintln!("the welcome saga, trace {trace_id}:\n{}", saga.summary());

    // A second exclusive campaign: its contract is rejected and its report compensated,
    // all in the trace of the request that created the campaign.
    let first = create_campaign(
        &env,
        &client,
        &campaign_body(&influencer, "Exclusiva A", "exclusivo"),
        201,
    )
    .await;
    the_report_of(&env, &client, text(&first, "id"), "completado", "cancelado").await;
    let (traceparent, trace_id, outside) = caller();
    let second = post_traced(
        &env,
        &client,
        &env.url(CREATE_CAMPAIGN, "/campanas"),
        &traceparent,
        &campaign_body(&influencer, "Exclusiva B", "exclusivo"),
    )
    .await;
    the_report_of(
        &env,
        &client,
        text(&second, "id"),
        "cancelado",
        "completado",
    )
    .await;
    let compensation = whole_trace(
        &env,
        &jaeger,
        (&trace_id, &outside),
        &[CREATE_CAMPAIGN, BRIDGE, SEND_CONTRACT, COMPENSATE_REPORT],
        &[SEND_CONTRACT, COMPENSATE_REPORT],
    )
    .await;
    let compensated = compensation
        .spans
        .iter()
        .any(|span| span.service == COMPENSATE_REPORT && span.operation == "handle ContratoError");
    eprintln!(
        "the compensation, trace {trace_id}:\n{}",
        compensation.summary()
    );
    assert!(
        compensated,
        "the compensation is in the campaign's trace:\n{}",
        compensation.summary()
    );
}
