//! Registers influencers: POST /influencers and the EventoCrearInfluencer command.

use axum::Router;

/// The service's routes. For now only `GET /health`.
pub fn app() -> Router {
    alpes_shared::http::health_routes()
}
