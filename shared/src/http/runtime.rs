//! What every function shares at run time: its database pool, its event bus, the push
//! authentication, and the router layers that make each one behave the same way
//! (request ids, logs, body limit, timeout, problem+json for unknown routes, health).

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;
use sqlx::PgPool;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{OnResponse, TraceLayer},
};
use uuid::Uuid;

use super::{
    BODY_LIMIT, BusSettings, FunctionConfig,
    metrics::{self, FunctionMetrics},
    problem::ApiError,
    push_auth::PushAuth,
    serve::health_routes,
    telemetry,
};
use crate::{
    bus::{
        EventBus, PubSubBus, Publisher, PulsarBus,
        relay::{Relay, RelayOutcome},
    },
    store::{
        self, Context, StoreError,
        outbox::{Enqueued, OutboxMessage},
    },
    trace_context,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Bound on each dependency check of `/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on the sweeps of one `POST /outbox/relay` (so at most 5000 rows per call).
const RELAY_REQUEST_SWEEPS: usize = 10;
/// Bound on the back-to-back sweeps of one relay tick (a backlog drains without waiting
/// for the next tick, and the loop still yields now and then).
const RELAY_TICK_SWEEPS: usize = 50;
/// Retention statements per table per pass (each deletes at most 1000 rows).
const PRUNE_BATCHES: usize = 10;
/// How often the in-instance relay applies the retention.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A function's shared handles. Cheap to clone. Building it does no I/O: the pool, the
/// broker and the push authentication's HTTPS client connect (or are built) on first
/// use, so a cold start is only process start-up.
#[derive(Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub pool: PgPool,
    pub bus: Arc<EventBus>,
    /// Publishes the outbox: inline after a commit, and in sweeps.
    pub relay: Relay<EventBus>,
    pub push_auth: Arc<PushAuth>,
    pub config: Arc<FunctionConfig>,
    /// What `GET /metrics` shows.
    pub metrics: Arc<FunctionMetrics>,
}

impl Runtime {
    pub fn new(name: &'static str, config: FunctionConfig, context: Context) -> Self {
        let pool = store::pool(&config.database, context);
        let bus = match &config.bus {
            BusSettings::Pulsar(settings) => EventBus::Pulsar(PulsarBus::new(settings.clone())),
            BusSettings::PubSub {
                project,
                emulator,
                timeout,
            } => EventBus::PubSub(PubSubBus::new(project.clone(), emulator.clone(), *timeout)),
        };
        let bus = Arc::new(bus);
        let relay = Relay::new(pool.clone(), bus.clone(), config.relay.clone());
        let metrics = Arc::new(FunctionMetrics::new(relay.counters()));
        Self {
            name,
            pool,
            bus,
            relay,
            metrics,
            push_auth: Arc::new(PushAuth::from_settings(&config.push_auth)),
            config: Arc::new(config),
        }
    }

    /// Adds `message` to the outbox in the caller's transaction, leased to this instance
    /// for its inline publish after commit ([`Runtime::publish_committed`]).
    pub async fn enqueue(
        &self,
        tx: &mut sqlx::PgConnection,
        message: OutboxMessage,
    ) -> Result<Enqueued, StoreError> {
        self.relay.enqueue(tx, message).await
    }

    /// Publishes the rows this request just committed, waiting at most
    /// `PUBLISH_INLINE_BUDGET_MS`. Never fails: the request succeeded with its commit, and
    /// what is not published here the relay publishes.
    pub async fn publish_committed(&self, rows: Vec<Enqueued>) {
        self.relay.publish_committed(rows).await;
    }

    /// Sweeps the outbox every `relay_interval` while the process lives (back to back
    /// while a backlog lasts), so events whose inline publish failed (broker down,
    /// instance stopped mid-request) still go out; applies the retention every 10
    /// minutes. Every instance of every function of the context may sweep: claims are
    /// leases, committed before the broker is called.
    ///
    /// The task starts once [`serve`](super::serve) listens, and then opens the broker
    /// connection at once, while the first sweep opens the database's: the first write
    /// finds both open (or their handshakes under way) instead of opening them one after
    /// the other. A broker that does not answer only leaves the connection to the first
    /// publish, as before.
    pub fn spawn_relay(&self) -> tokio::task::JoinHandle<()> {
        let runtime = self.clone();
        tokio::spawn(async move {
            super::serve::listening().await;
            let warm_up = async {
                if let Err(error) = runtime.bus.ready().await {
                    tracing::debug!(%error, "broker connection not opened in advance");
                }
            };
            tokio::join!(warm_up, runtime.relay_loop());
        })
    }

    async fn relay_loop(&self) {
        let mut ticks = tokio::time::interval(self.config.relay_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            match self.relay.drain(RELAY_TICK_SWEEPS).await {
                Ok(RelayOutcome {
                    published: 0,
                    failed: 0,
                    ..
                }) => {}
                Ok(outcome) => tracing::info!(
                    published = outcome.published,
                    failed = outcome.failed,
                    "outbox swept"
                ),
                Err(error) => tracing::debug!(%error, "outbox sweep skipped"),
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(tokio::time::Instant::now());
                match self.relay.prune(PRUNE_BATCHES).await {
                    Ok(pruned) if pruned.outbox > 0 || pruned.inbox > 0 => tracing::info!(
                        outbox = pruned.outbox,
                        inbox = pruned.inbox,
                        "retention: old published events and inbox records deleted"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "retention skipped"),
                }
            }
        }
    }

    /// Wraps a function's routes with the shared endpoints and layers.
    pub fn router(&self, routes: Router) -> Router {
        let timeout = self.config.request_timeout;
        routes
            .merge(health_routes())
            .route("/ready", get(ready).with_state(self.clone()))
            .route("/outbox/relay", post(relay_now).with_state(self.clone()))
            .route("/metrics", get(metrics::metrics).with_state(self.clone()))
            .fallback(|| async { ApiError::NotFound("no such resource".into()) })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .layer(middleware::from_fn_with_state(timeout, time_limit))
            // Inside the request's span: the panic is logged with its request id.
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ))
            // Outside the timeout and the panic guard: their 503 and 500 are counted. A
            // layer of the router wraps each route, so the route's template is known.
            .layer(middleware::from_fn_with_state(
                self.metrics.clone(),
                metrics::track,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request| {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|value| value.to_str().ok())
                        };
                        let span = tracing::info_span!(
                            "request",
                            otel.kind = "server",
                            otel.name = format!("{} {}", request.method(), request.uri().path()),
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id = header("x-request-id").unwrap_or_default(),
                            trace_id = tracing::field::Empty,
                            status = tracing::field::Empty,
                            otel.status_code = tracing::field::Empty,
                        );
                        // The caller's trace (the bridge's push, another service), or a
                        // new one; its id is what the logs carry.
                        trace_context::continue_from(&span, request.headers());
                        let trace = trace_context::trace_id(&span).or_else(|| {
                            telemetry::trace_id(
                                header("traceparent"),
                                header("x-cloud-trace-context"),
                            )
                        });
                        if let Some(trace) = trace {
                            span.record(telemetry::TRACE_FIELD, trace);
                        }
                        span
                    })
                    .on_request(())
                    .on_response(
                        |response: &Response, latency: Duration, span: &tracing::Span| {
                            let status = response.status();
                            span.record("status", status.as_u16());
                            if status.is_server_error() {
                                span.record("otel.status_code", "ERROR");
                            }
                            tower_http::trace::DefaultOnResponse::new()
                                .level(tracing::Level::INFO)
                                .on_response(response, latency, span);
                        },
                    ),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetRequestIdLayer::new(REQUEST_ID, UuidV7RequestId))
    }
}

/// A handler that panicked fails its request alone: a 500 problem (the panic is logged
/// with the request's span, never sent), and the instance keeps serving.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::Internal(format!("the handler panicked: {message}")).into_response()
}

/// Request ids for requests that bring none: UUID v7, sortable by time.
#[derive(Clone, Copy)]
struct UuidV7RequestId;

impl MakeRequestId for UuidV7RequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// What `POST /outbox/relay` published.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RelayReport {
    /// Events handed to the broker by this call.
    published: usize,
}

/// `POST /outbox/relay`: sweeps the outbox now, until no event is due (at most 5000 per
/// call), for a scheduler. Each instance also sweeps every `RELAY_INTERVAL_MS` while it
/// runs, but on Cloud Run an instance gets CPU only during requests and may be gone: a
/// Cloud Scheduler job calling this endpoint (with an OIDC token, checked as the event
/// pushes are, `PUSH_AUTH`) publishes what a broker outage left behind even when no
/// request comes.
#[utoipa::path(
    post,
    path = "/outbox/relay",
    tag = "runtime",
    operation_id = "relayOutbox",
    security(("push_token" = [])),
    responses(
        (status = 200, description = "Every due event was published (or none was due)", body = RelayReport),
        super::schemas::Unauthorized,
        (status = 503, description = "The broker or the database refused: the events stay in the outbox for the next sweep", body = super::problem::Problem, content_type = "application/problem+json"),
    )
)]
async fn relay_now(State(runtime): State<Runtime>, headers: HeaderMap) -> Response {
    if let Err(error) = runtime.push_auth.verify(&headers).await {
        return error.into_response();
    }
    let outcome = match runtime.relay.drain(RELAY_REQUEST_SWEEPS).await {
        Ok(outcome) => outcome,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let published = outcome.published;
    if outcome.failed > 0 {
        tracing::warn!(published, "outbox relay call: the broker refused");
        return ApiError::Unavailable(format!(
            "the broker refused an event: it and {} others stay in the outbox ({published} published)",
            outcome.released
        ))
        .into_response();
    }
    if let Err(error) = runtime.relay.prune(1).await {
        tracing::debug!(%error, "retention skipped");
    }
    if published > 0 {
        tracing::info!(published, "outbox relayed on request");
    }
    axum::Json(RelayReport { published }).into_response()
}

/// Answers 503 (problem+json) when a request outlives the configured timeout.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::Unavailable(format!("the request took longer than {limit:?}")).into_response()
        }
    }
}

/// What `GET /ready` found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Readiness {
    database: DependencyStatus,
    event_bus: DependencyStatus,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum DependencyStatus {
    Ok,
    Unavailable,
}

impl From<bool> for DependencyStatus {
    fn from(ok: bool) -> Self {
        if ok { Self::Ok } else { Self::Unavailable }
    }
}

/// `GET /ready`: the database answers and the event bus is reachable.
///
/// Each dependency is checked within 2 s, both at once; the event bus counts as down
/// while its publishes keep failing (the circuit breaker is open) even if it accepts
/// connections: writes still succeed then, their events wait in the outbox.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "runtime",
    operation_id = "ready",
    responses(
        (status = 200, description = "Every dependency answers", body = Readiness),
        (status = 503, description = "A dependency does not answer", body = Readiness),
    )
)]
async fn ready(State(runtime): State<Runtime>) -> Response {
    let (database, bus) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, store::ping(&runtime.pool)),
        tokio::time::timeout(READY_TIMEOUT, runtime.bus.ready()),
    );
    let database_ok = matches!(database, Ok(Ok(())));
    let bus_ok = matches!(bus, Ok(Ok(()))) && !runtime.relay.broker_failing();
    let body = axum::Json(Readiness {
        database: database_ok.into(),
        event_bus: bus_ok.into(),
    });
    if database_ok && bus_ok {
        (StatusCode::OK, body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}
