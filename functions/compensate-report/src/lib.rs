//! compensate-report: the saga's compensation. On `EventoContratoError` the report of
//! the campaign whose contract failed is cancelled; `POST /reportes/{id}/compensar`
//! cancels one report by hand. Emits `EventoReporte` with `ReporteCompensado` on
//! `eventos-reportes`, once per report that changed.
//!
//! The rejection may come before the campaign's report exists (the report step and the
//! contract step run in parallel, SPEC section 7): then the compensation is remembered
//! (a pending compensation of the campaign) and generate-report creates the report
//! directly cancelled. Both functions decide about a campaign under its lock
//! (`reports::lock_campaign`), so a creation and a compensation racing each other
//! cannot both miss the other.

//!
//! [`use_cases`] is the function; [`http`] and [`events`] adapt its two triggers.

mod events;
mod http;
mod use_cases;

use alpes_shared::http::{Runtime, events_router};
use axum::Router;

pub use alpes_shared::{events::report_event, views::ReportBody};
/// The compensation body, for tests that check the document's example.
pub use http::CompensateReportRequest;

pub const NAME: &str = "compensate-report";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let api = http::routes(runtime.clone());
    let events = events_router(
        events::Compensations::new(runtime.clone()),
        runtime.push_auth.clone(),
    );
    runtime.router(api.merge(events))
}
