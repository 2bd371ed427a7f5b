//! Pushes Pulsar subscriptions to the functions' event endpoints in the Pub/Sub push format.

use axum::Router;

/// The service's routes. For now only `GET /health`.
pub fn app() -> Router {
    alpes_shared::http::health_routes()
}
