//! create-campaign: `POST /campanas`, `GET /campanas[/{id}]`, and one welcome campaign for
//! every `EventoInfluencerRegistrado`. Emits `EventoCampanaCreada` on `eventos-campanas`.
//!
//! An API campaign starts its own saga (`correlation_id` = the campaign id); a welcome
//! campaign continues the registration's (`follow_up`, so the influencer's id). The message
//! key is the campaign id. Amounts are JSON numbers in the API, exact decimals behind it.
//!
//! [`use_cases`] is the function; [`http`] and [`events`] adapt its two triggers.

mod events;
mod http;
mod use_cases;

use alpes_shared::http::{Runtime, events_router};
use axum::Router;

/// The create body, for tests that check the document's example against the domain.
pub use http::CreateCampaignRequest;

pub const NAME: &str = "create-campaign";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let api = http::routes(runtime.clone());
    let events = events_router(
        events::Welcomes::new(runtime.clone()),
        runtime.push_auth.clone(),
    );
    runtime.router(api.merge(events))
}
