use std::net::{Ipv4Addr, SocketAddr};

use axum::{Router, http::StatusCode, routing::get};
use tokio::net::TcpListener;

/// `GET /health`: liveness. It does no I/O, so it answers while dependencies are down.
pub fn health_routes() -> Router {
    Router::new().route("/health", get(health))
}

/// Liveness: the process answers. No I/O, so it answers while dependencies are down.
#[utoipa::path(
    get,
    path = "/health",
    tag = "runtime",
    operation_id = "health",
    responses((status = 200, description = "The process is alive (empty body)"))
)]
async fn health() -> StatusCode {
    StatusCode::OK
}

/// Serves `app` until SIGTERM or Ctrl-C, then stops accepting and lets in-flight
/// requests finish (Cloud Run allows 10 s after SIGTERM).
///
/// Under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` is set) the same router answers Lambda
/// invocations through `lambda_http` (API Gateway, ALB and function URL events) instead.
pub async fn serve(app: Router, port: u16) -> anyhow::Result<()> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing::info!("running under AWS Lambda");
        return lambda_http::run(app)
            .await
            .map_err(|error| anyhow::anyhow!("lambda runtime: {error}"));
    }
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
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
