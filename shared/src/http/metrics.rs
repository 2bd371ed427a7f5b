//! `GET /metrics` of every function: Prometheus text exposition (version 0.0.4) with the
//! official client (`prometheus-client`), as the bridge's.
//!
//! - `http_requests_total{route,method,status}` and `http_request_duration_seconds{route,method}`:
//!   every request, by the route's template (`/influencers/{id}`, never the raw path;
//!   `unmatched` for what no route serves), counted by a layer of the shared router.
//! - `events_handled_total{event_type,outcome}`: what `POST /events` did with each event
//!   it could read.
//! - `outbox_relay_published_total`, `outbox_relay_failures_total`: the outbox relay of
//!   this instance (inline publishes and sweeps).
//! - `outbox_backlog`, `outbox_oldest_age_seconds`: the context's unpublished outbox rows,
//!   read by one bounded query on each scrape; when the database does not answer in time
//!   they are left out and `outbox_scrape_errors_total` counts the failure (the scrape
//!   still answers 200 with everything else).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, header::CONTENT_TYPE},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use sqlx::PgPool;

use crate::{
    bus::relay::RelayCounters,
    store::{StoreError, outbox},
};

/// Upper bounds (seconds) of the request latency buckets.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Bound on the outbox query of one scrape (its statement timeout, and the wait for a
/// pooled connection and the answer together).
pub const OUTBOX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(1);
/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event_type: &'static str,
    outcome: &'static str,
}

/// What `POST /events` did with an event, left in its response's extensions for the
/// metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct EventOutcome {
    /// The event's type (a closed list: see [`event_type_label`]).
    pub event_type: &'static str,
    /// `applied`, `duplicate`, `ignored`, `refused` (permanent failure, acknowledged),
    /// `unavailable` (retried) or `failed` (internal error, retried).
    pub outcome: &'static str,
}

/// The event types a function may see, as label values; anything else (a report's
/// `tipo_evento` nobody defined) is `other`, so the label's values stay few.
pub fn event_type_label(event_type: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "CrearInfluencer",
        "InfluencerRegistrado",
        "CampanaCreada",
        "ContratoCreado",
        "ContratoError",
        "Reporte",
        "ReporteCreado",
        "ReporteActualizado",
        "ReporteCompensado",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == event_type)
        .unwrap_or("other")
}

/// A function's metrics. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct FunctionMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    events: Family<EventLabels, Counter>,
    outbox_scrape_errors: Counter,
}

impl FunctionMetrics {
    pub fn new(relay: &RelayCounters) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations =
            Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS));
        let events = Family::<EventLabels, Counter>::default();
        let outbox_scrape_errors = Counter::default();
        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response's head, by route template and method",
            durations.clone(),
        );
        registry.register(
            "events_handled",
            "Events of POST /events by type and outcome (applied, duplicate, ignored, refused, unavailable, failed)",
            events.clone(),
        );
        registry.register(
            "outbox_relay_published",
            "Outbox rows this instance published (inline after a commit, or in a sweep)",
            relay.published.clone(),
        );
        registry.register(
            "outbox_relay_failures",
            "Outbox publishes of this instance the broker refused or that timed out",
            relay.failures.clone(),
        );
        registry.register(
            "outbox_scrape_errors",
            "Scrapes whose outbox query failed or timed out (outbox_backlog and outbox_oldest_age_seconds left out)",
            outbox_scrape_errors.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            events,
            outbox_scrape_errors,
        }
    }

    fn record(&self, route: String, method: &Method, response: &Response, elapsed: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method,
                status: response.status().as_u16(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { route, method })
            .observe(elapsed.as_secs_f64());
        if let Some(event) = response.extensions().get::<EventOutcome>() {
            self.events
                .get_or_create(&EventLabels {
                    event_type: event.event_type,
                    outcome: event.outcome,
                })
                .inc();
        }
    }

    /// The exposition: every metric, and the outbox gauges when `outbox` is known.
    pub fn render(&self, outbox: Option<outbox::Backlog>) -> String {
        let mut text = String::new();
        let mut encode = |registry: &Registry| {
            if let Err(error) = prometheus_text::encode(&mut text, registry) {
                tracing::error!(%error, "cannot encode the metrics");
            }
        };
        encode(&self.registry);
        if let Some(backlog) = outbox {
            let mut registry = Registry::default();
            let rows = Gauge::<i64>::default();
            rows.set(backlog.rows);
            let age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            age.set(backlog.oldest_age.as_secs_f64());
            registry.register(
                "outbox_backlog",
                "Outbox rows of this function's context not published yet",
                rows,
            );
            registry.register(
                "outbox_oldest_age_seconds",
                "Age of the oldest unpublished outbox row (0 when none)",
                age,
            );
            encode(&registry);
        }
        text
    }
}

/// Methods as label values: the standard ones, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The layer that counts and times every request, by its route's template.
pub(crate) async fn track(
    State(metrics): State<Arc<FunctionMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |path| path.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record(route, &method, &response, started.elapsed());
    response
}

/// Reads the outbox backlog within [`OUTBOX_SCRAPE_TIMEOUT`].
async fn read_backlog(pool: &PgPool) -> Result<outbox::Backlog, StoreError> {
    match tokio::time::timeout(
        OUTBOX_SCRAPE_TIMEOUT,
        outbox::backlog(pool, OUTBOX_SCRAPE_TIMEOUT),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
    }
}

/// `GET /metrics`: the function's metrics in the Prometheus text format (0.0.4).
///
/// Always 200: when the database does not answer within 1 s the outbox gauges are left
/// out and `outbox_scrape_errors_total` counts it. No authentication, as `/health`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "runtime",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition (version 0.0.4): `http_requests_total{route,method,status}`, `http_request_duration_seconds{route,method}`, `events_handled_total{event_type,outcome}`, `outbox_backlog`, `outbox_oldest_age_seconds`, `outbox_relay_published_total`, `outbox_relay_failures_total`, `outbox_scrape_errors_total`", content_type = "text/plain", body = String),
    )
)]
pub(crate) async fn metrics(State(runtime): State<super::Runtime>) -> Response {
    let backlog = match read_backlog(&runtime.pool).await {
        Ok(backlog) => Some(backlog),
        Err(error) => {
            tracing::debug!(%error, "metrics: the outbox backlog is unknown");
            runtime.metrics.outbox_scrape_errors.inc();
            None
        }
    };
    (
        [(CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
        runtime.metrics.render(backlog),
    )
        .into_response()
}
