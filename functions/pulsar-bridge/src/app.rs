//! The running bridge: its routes' tasks and its HTTP server (`/health`, `/ready`,
//! `/metrics`).

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header::CONTENT_TYPE},
    response::IntoResponse,
    routing::get,
};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{AuthError, TokenSource},
    config::BridgeConfig,
    delivery::{PulsarConnector, RouteContext, run_route},
    metrics::{Metrics, RouteMetrics},
    pusher::Pusher,
};

/// Why the bridge could not start, or failed while running.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("cannot listen on port {port}: {source}")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// What the HTTP endpoints read.
struct AppState {
    metrics: Arc<Metrics>,
    stopping: AtomicBool,
}

/// `GET /health` (liveness), `GET /ready` (every route subscribed and its broker
/// answering) and `GET /metrics` (Prometheus text format).
fn router(state: Arc<AppState>) -> Router {
    alpes_shared::http::health_routes().merge(
        Router::new()
            .route("/ready", get(ready))
            .route("/metrics", get(metrics))
            .with_state(state),
    )
}

async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let stopping = state.stopping.load(Ordering::Relaxed);
    let routes: Vec<_> = state
        .metrics
        .routes
        .iter()
        .map(|route| {
            serde_json::json!({
                "route": route.route,
                "connected": route.is_connected(),
            })
        })
        .collect();
    let ready = !stopping
        && state
            .metrics
            .routes
            .iter()
            .all(|route| route.is_connected());
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "ready": ready,
            "stopping": stopping,
            "routes": routes,
        })),
    )
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// A started bridge.
pub struct RunningBridge {
    /// Where the HTTP endpoints listen.
    pub address: SocketAddr,
    /// The routes' metrics, as `/metrics` shows them.
    pub metrics: Arc<Metrics>,
    stopped: tokio::task::JoinHandle<std::io::Result<()>>,
    server: tokio::task::AbortHandle,
}

impl RunningBridge {
    /// Whether `/ready` would answer 200.
    pub fn is_ready(&self) -> bool {
        self.metrics.routes.iter().all(|route| route.is_connected())
    }

    /// Waits until the bridge has stopped, after its shutdown token was cancelled.
    pub async fn stopped(self) -> std::io::Result<()> {
        match self.stopped.await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }

    /// Stops everything at once, like a crash: nothing in flight is settled or flushed.
    pub async fn abort(self) {
        self.stopped.abort();
        self.server.abort();
        let _ = self.stopped.await;
    }
}

/// Starts the bridge: binds `0.0.0.0:$PORT` and subscribes every route in the background (a
/// broker that is down delays readiness, not the start). Everything stops when `shutdown`
/// is cancelled: routes first (in-flight pushes get the grace period), then the server.
pub async fn start(
    config: BridgeConfig,
    shutdown: CancellationToken,
) -> Result<RunningBridge, BridgeError> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port)))
        .await
        .map_err(|source| BridgeError::Listen {
            port: config.port,
            source,
        })?;
    // Listening first: the HTTPS client (its TLS roots) is not on the path to the socket.
    let http = alpes_shared::http::tls::client_builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?;
    let tokens = TokenSource::new(&config.push_auth)?;
    let pusher = Arc::new(Pusher::new(http.clone(), tokens));
    for skipped in &config.skipped_routes {
        tracing::warn!(
            topic = skipped.topic,
            subscription = skipped.subscription,
            variable = skipped.missing_variable,
            "route skipped: its function URL is not set"
        );
    }
    let connector = Arc::new(PulsarConnector::new(
        config.pulsar_url.clone(),
        config.pulsar_token.as_ref().map(|token| token.0.clone()),
    ));
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let consumer_name = format!("pulsar-bridge-{}", &instance[..12]);
    let contexts: Vec<Arc<RouteContext>> = config
        .routes
        .iter()
        .map(|route| {
            let name = route.name();
            let metrics = RouteMetrics::new(
                name.clone(),
                route.topic.clone(),
                route.subscription.clone(),
            );
            // Two of the longest waits between attempts plus a push: a message not seen
            // failing here for longer is retried by another instance.
            metrics
                .set_retry_horizon(route.backoff.max * 2 + route.timeout + Duration::from_secs(30));
            Arc::new(RouteContext {
                metrics: Arc::new(metrics),
                name,
                pusher: pusher.clone(),
                pushing: Semaphore::new(route.concurrency),
                consumer_name: consumer_name.clone(),
                shutdown_grace: config.shutdown_grace,
                route: route.clone(),
            })
        })
        .collect();
    let metrics = Arc::new(Metrics::new(
        contexts
            .iter()
            .map(|context| context.metrics.clone())
            .collect(),
    ));
    let state = Arc::new(AppState {
        metrics: metrics.clone(),
        stopping: AtomicBool::new(false),
    });
    let address = listener
        .local_addr()
        .map_err(|source| BridgeError::Listen {
            port: config.port,
            source,
        })?;
    for context in &contexts {
        tracing::info!(
            route = %context.name,
            url = %context.route.url,
            ordered_by_key = context.route.ordered_by_key,
            concurrency = context.route.concurrency,
            max_attempts = context.route.max_attempts,
            "route configured"
        );
    }

    let mut routes = JoinSet::new();
    if let Some(admin_url) = &config.admin_url {
        let admin = crate::dlq::Admin::new(http, admin_url, config.pulsar_token.clone());
        let watched: Vec<_> = contexts
            .iter()
            .map(|context| (context.route.dead_letter_topic(), context.metrics.clone()))
            .collect();
        routes.spawn(watch_dead_letters(admin, watched, shutdown.clone()));
    }
    for context in contexts {
        routes.spawn(run_route(context, connector.clone(), shutdown.clone()));
    }
    let server_stop = CancellationToken::new();
    let server = tokio::spawn({
        let server_stop = server_stop.clone();
        let app = router(state.clone());
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(server_stop.cancelled_owned())
                .await
        }
    });
    let server_abort = server.abort_handle();
    let stopped = tokio::spawn(async move {
        shutdown.cancelled().await;
        state.stopping.store(true, Ordering::Relaxed);
        tracing::info!("stopping: draining the routes");
        while routes.join_next().await.is_some() {}
        server_stop.cancel();
        let served = server.await.map_err(std::io::Error::other)?;
        tracing::info!("stopped");
        served
    });
    Ok(RunningBridge {
        address,
        metrics,
        stopped,
        server: server_abort,
    })
}

/// How often the dead-letter backlog metric is refreshed from the admin API.
const DEAD_LETTER_POLL: Duration = Duration::from_secs(15);

/// Keeps each route's `pulsar_bridge_dead_letter_backlog` current (best effort: -1 while
/// the admin API does not answer).
async fn watch_dead_letters(
    admin: crate::dlq::Admin,
    routes: Vec<(String, Arc<RouteMetrics>)>,
    shutdown: CancellationToken,
) {
    let mut warned = false;
    loop {
        for (topic, metrics) in &routes {
            let backlog = match admin.dead_letter_backlog(topic).await {
                Ok(backlog) => i64::try_from(backlog).unwrap_or(i64::MAX),
                Err(error) => {
                    if !warned {
                        tracing::warn!(%error, "cannot read the dead-letter backlog from the admin API (PULSAR_ADMIN_URL)");
                        warned = true;
                    }
                    -1
                }
            };
            metrics.dead_letter_backlog.set(backlog);
        }
        tokio::select! {
            () = tokio::time::sleep(DEAD_LETTER_POLL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Runs the bridge until SIGTERM or Ctrl-C, then drains it.
pub async fn run(config: BridgeConfig) -> Result<(), BridgeError> {
    let shutdown = CancellationToken::new();
    let running = start(config, shutdown.clone()).await?;
    tracing::info!(address = %running.address, "listening");
    tokio::spawn(async move {
        alpes_shared::http::shutdown_signal().await;
        shutdown.cancel();
    });
    running.stopped().await.map_err(BridgeError::Serve)
}
