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
    trace::TraceLayer,
};
use uuid::Uuid;

use super::{
    BODY_LIMIT, BusSettings, FunctionConfig, problem::ApiError, push_auth::PushAuth,
    serve::health_routes, telemetry,
};
use crate::{
    bus::{EventBus, PubSubBus, Publisher, PulsarBus, relay},
    store::{self, Context},
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Bound on each dependency check of `/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// Rows one outbox sweep claims.
const RELAY_BATCH: i64 = 100;
/// Bound on the sweeps of one `POST /outbox/relay` (so at most 1000 rows per call).
const RELAY_REQUEST_SWEEPS: usize = 10;

/// A function's shared handles. Cheap to clone. Building it does no I/O: the pool and
/// the broker connect on first use, so a cold start is only process start-up.
#[derive(Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub pool: PgPool,
    pub bus: Arc<EventBus>,
    pub push_auth: Arc<PushAuth>,
    pub config: Arc<FunctionConfig>,
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
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            name,
            pool,
            bus: Arc::new(bus),
            push_auth: Arc::new(PushAuth::new(&config.push_auth, http)),
            config: Arc::new(config),
        }
    }

    /// Publishes events this request just committed to the outbox. A broker failure is
    /// logged, not returned: the request succeeded, and the relay retries the rows.
    pub async fn publish_committed(&self, event_ids: &[Uuid]) {
        match relay::publish_committed(&self.pool, self.bus.as_ref(), event_ids).await {
            Ok(outcome) if outcome.failed > 0 => {
                tracing::warn!(
                    failed = outcome.failed,
                    "events left in the outbox for the relay"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "events left in the outbox for the relay"),
        }
    }

    /// Sweeps the outbox every `relay_interval` while the process lives, so events whose
    /// publish failed (broker down, instance stopped mid-request) still go out. Every
    /// instance of every function of the context may sweep: rows are claimed with
    /// `FOR UPDATE SKIP LOCKED`.
    pub fn spawn_relay(&self) -> tokio::task::JoinHandle<()> {
        let runtime = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(runtime.config.relay_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match relay::sweep(&runtime.pool, runtime.bus.as_ref(), RELAY_BATCH).await {
                    Ok(outcome) if outcome.published > 0 || outcome.failed > 0 => {
                        tracing::info!(
                            published = outcome.published,
                            failed = outcome.failed,
                            "outbox swept"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "outbox sweep skipped"),
                }
            }
        })
    }

    /// Wraps a function's routes with the shared endpoints and layers.
    pub fn router(&self, routes: Router) -> Router {
        let timeout = self.config.request_timeout;
        routes
            .merge(health_routes())
            .route("/ready", get(ready).with_state(self.clone()))
            .route("/outbox/relay", post(relay_now).with_state(self.clone()))
            .fallback(|| async { ApiError::NotFound("no such resource".into()) })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .layer(middleware::from_fn_with_state(timeout, time_limit))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request| {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|value| value.to_str().ok())
                        };
                        let trace = telemetry::trace_id(
                            header("traceparent"),
                            header("x-cloud-trace-context"),
                        );
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id = header("x-request-id").unwrap_or_default(),
                            trace_id = trace.as_deref(),
                        )
                    })
                    .on_request(())
                    .on_response(
                        tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                    ),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetRequestIdLayer::new(REQUEST_ID, UuidV7RequestId))
    }
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

/// `POST /outbox/relay`: sweeps the outbox now, until no event is due (at most 1000 per
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
        super::openapi::Unauthorized,
        (status = 503, description = "The broker or the database refused: the events stay in the outbox for the next sweep", body = super::problem::Problem, content_type = "application/problem+json"),
    )
)]
async fn relay_now(State(runtime): State<Runtime>, headers: HeaderMap) -> Response {
    if let Err(error) = runtime.push_auth.verify(&headers).await {
        return error.into_response();
    }
    let mut published = 0;
    for _ in 0..RELAY_REQUEST_SWEEPS {
        let outcome = match relay::sweep(&runtime.pool, runtime.bus.as_ref(), RELAY_BATCH).await {
            Ok(outcome) => outcome,
            Err(error) => return ApiError::from(error).into_response(),
        };
        published += outcome.published;
        if outcome.failed > 0 {
            tracing::warn!(
                published,
                failed = outcome.failed,
                "outbox relay call: the broker refused"
            );
            return ApiError::Unavailable(format!(
                "{} events could not be published and stay in the outbox ({published} published)",
                outcome.failed
            ))
            .into_response();
        }
        if outcome.published < RELAY_BATCH as usize {
            break;
        }
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
/// Each dependency is checked within 2 s.
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
    let database = tokio::time::timeout(READY_TIMEOUT, store::ping(&runtime.pool)).await;
    let bus = tokio::time::timeout(READY_TIMEOUT, runtime.bus.ready()).await;
    let database_ok = matches!(database, Ok(Ok(())));
    let bus_ok = matches!(bus, Ok(Ok(())));
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
