//! register-influencer: `POST /influencers`, `GET /influencers[/{id}]`, and the
//! `EventoCrearInfluencer` command of the existing tools. Emits
//! `EventoInfluencerRegistrado` on `eventos-influencers`.
//!
//! [`use_cases`] is the function; [`http`] and [`events`] adapt its two triggers.

mod events;
mod http;
mod use_cases;

use alpes_shared::http::{Runtime, events_router};
use axum::Router;

/// The create body, for tests that check the document's example against the domain.
pub use http::RegisterInfluencerRequest;

pub const NAME: &str = "register-influencer";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let api = http::routes(runtime.clone());
    let events = events_router(
        events::Commands::new(runtime.clone()),
        runtime.push_auth.clone(),
    );
    runtime.router(api.merge(events))
}
