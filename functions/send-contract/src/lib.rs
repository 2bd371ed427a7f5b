//! send-contract: `POST /contratos`, `GET /contratos[/{id}]`, and the contract step of the
//! saga on `EventoCampanaCreada`. Emits `EventoContratoCreado` on `eventos-contratos`, or,
//! when the step is rejected, `EventoContratoError` on `eventos-contratos-error`.
//!
//! The step runs in one transaction: inbox entries, the decision (`check_can_sign` on the
//! influencer's stored contracts) and its effects (contract + `ContratoCreado`, or only
//! `ContratoError`). Besides the event id, the inbox records the step's own key
//! (`CampanaCreada:{campana_id}:{influencer_id}`), so a campaign yields one outcome however
//! many messages carry it: never a second contract, never a second rejection. The
//! database's unique indexes back the rules; a lost race rolls back and is decided again.
//!
//! Correlation: a contract made for a campaign event continues that event's saga
//! (`follow_up`); one made over the API joins its campaign's saga (`id_campana`).
//!
//! [`use_cases`] is the function; [`http`] and [`events`] adapt its two triggers.

mod events;
mod http;
mod use_cases;

use alpes_shared::http::{Runtime, events_router};
use axum::Router;

/// The create body, for tests that check the document's example against the domain.
pub use http::SignContractRequest;

pub const NAME: &str = "send-contract";

/// The `error` code of every rejected contract step.
pub const REJECTED: &str = "ContratoRechazado";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let api = http::routes(runtime.clone());
    let events = events_router(
        events::CampaignContracts::new(runtime.clone()),
        runtime.push_auth.clone(),
    );
    runtime.router(api.merge(events))
}
