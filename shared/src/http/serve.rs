use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::atomic::{AtomicBool, Ordering},
};

use axum::{Json, Router, routing::get};
use tokio::{net::TcpListener, sync::Notify};

static LISTENING: AtomicBool = AtomicBool::new(false);
static LISTENING_CHANGED: Notify = Notify::const_new();

/// Resolves once [`serve`] listens (or hands the router to the Lambda runtime): work that
/// the first request does not need (opening connections in advance, the outbox sweeps)
/// waits for it, so nothing but the process start stands between exec and the socket.
pub async fn listening() {
    // Created before the check: `notify_waiters` wakes it even if not yet polled.
    let changed = LISTENING_CHANGED.notified();
    if LISTENING.load(Ordering::Acquire) {
        return;
    }
    changed.await;
}

fn mark_listening() {
    LISTENING.store(true, Ordering::Release);
    LISTENING_CHANGED.notify_waiters();
}

/// `GET /health`: liveness, and `GET /`: what the existing system answered there (its
/// clients keep working). Neither does I/O, so they answer while dependencies are down.
pub fn health_routes() -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/", get(root))
}

/// The existing system's `GET /health` body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Liveness {
    #[schema(example = "up")]
    status: &'static str,
}

/// The existing system's `GET /` body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ApiBanner {
    #[schema(example = "AlpesPartners DIJS - API")]
    mensaje: &'static str,
    #[schema(example = "1.0.0")]
    version: &'static str,
    #[schema(example = "activo")]
    estado: &'static str,
}

/// The existing system's `GET /` answer.
pub const API_BANNER: (&str, &str, &str) = ("AlpesPartners DIJS - API", "1.0.0", "activo");

/// Liveness: the process answers. No I/O, so it answers while dependencies are down.
#[utoipa::path(
    get,
    path = "/health",
    tag = "runtime",
    operation_id = "health",
    responses((status = 200, description = "The process is alive: `{\"status\": \"up\"}`", body = Liveness))
)]
async fn health() -> Json<Liveness> {
    Json(Liveness { status: "up" })
}

/// The API's banner, as the existing system answered it.
#[utoipa::path(
    get,
    path = "/",
    tag = "runtime",
    operation_id = "root",
    responses((status = 200, description = "The API's name, version and state", body = ApiBanner))
)]
async fn root() -> Json<ApiBanner> {
    let (mensaje, version, estado) = API_BANNER;
    Json(ApiBanner {
        mensaje,
        version,
        estado,
    })
}

/// Serves `app` until SIGTERM or Ctrl-C, then stops accepting and lets in-flight
/// requests finish (Cloud Run allows 10 s after SIGTERM).
///
/// Under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` is set) the same router answers Lambda
/// invocations through `lambda_http` (API Gateway, ALB and function URL events) instead.
pub async fn serve(app: Router, port: u16) -> anyhow::Result<()> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing::info!("running under AWS Lambda");
        mark_listening();
        return lambda_http::run(app)
            .await
            .map_err(|error| anyhow::anyhow!("lambda runtime: {error}"));
    }
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).await?;
    mark_listening();
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    // The spans of the last requests (bounded by the export timeout).
    tokio::task::spawn_blocking(super::telemetry::shutdown).await?;
    Ok(())
}

/// Resolves on SIGTERM (Cloud Run's stop signal) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, draining"),
        () = terminate => tracing::info!("SIGTERM received, draining"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test]
    async fn background_work_waits_for_the_socket() {
        let early = tokio::time::timeout(Duration::from_millis(50), super::listening()).await;
        assert!(early.is_err(), "nothing listens yet");
        let serving = super::serve(axum::Router::new(), 0);
        let waiting = tokio::time::timeout(Duration::from_secs(5), super::listening());
        tokio::select! {
            result = serving => panic!("serve returned: {result:?}"),
            waited = waiting => waited.expect("listening() resolves once serve binds"),
        }
        // Later callers go straight through.
        tokio::time::timeout(Duration::from_secs(1), super::listening())
            .await
            .unwrap();
    }
}
