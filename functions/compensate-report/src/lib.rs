//! Cancels the reports of a campaign whose contract was rejected (saga compensation).

use axum::Router;

/// The service's routes. For now only `GET /health`.
pub fn app() -> Router {
    alpes_shared::http::health_routes()
}
