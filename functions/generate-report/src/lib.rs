//! generate-report: the report of each campaign, built from `EventoCampanaCreada` and
//! `EventoContratoCreado`; `GET /reportes[/{id}]`. Emits `EventoReporte`
//! (`ReporteCreado`, `ReporteActualizado`, and `ReporteCompensado` for a report born
//! cancelled) on `eventos-reportes`.
//!
//! [`use_cases`] is the function; [`events`] and [`http`] adapt its triggers and its
//! read API.

mod events;
mod http;
mod use_cases;

use alpes_shared::http::{Runtime, events_router};
use axum::Router;

pub const NAME: &str = "generate-report";

/// The service: its read API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let api = http::routes(runtime.clone());
    let events = events_router(
        events::Reports::new(runtime.clone()),
        runtime.push_auth.clone(),
    );
    runtime.router(api.merge(events))
}
