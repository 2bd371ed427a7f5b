//! Sends contracts: POST /contratos and the contract step of the saga.

use axum::Router;

/// The service's routes. For now only `GET /health`.
pub fn app() -> Router {
    alpes_shared::http::health_routes()
}
