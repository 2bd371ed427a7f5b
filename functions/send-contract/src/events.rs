//! The event adapter: `EventoCampanaCreada` naming an influencer becomes that campaign's
//! contract, or a rejection (`EventoContratoError`) that triggers compensation.

use alpes_shared::{
    domain::SignCampaignContract,
    events::{IntegrationEvent, Topic},
    http::{EventDelivery, EventError, EventHandler, Handled, Runtime},
};

use crate::use_cases::{self, Step};

pub struct CampaignContracts {
    runtime: Runtime,
}

impl CampaignContracts {
    pub fn new(runtime: Runtime) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { runtime })
    }
}

impl EventHandler for CampaignContracts {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::Campanas]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::CampanaCreada(payload) = &delivery.event else {
            return Err(EventError::Permanent("not an EventoCampanaCreada".into()));
        };
        let command = match SignCampaignContract::try_from(payload) {
            Ok(command) => command,
            Err(nothing_asked) => return Ok(Handled::Ignored(nothing_asked.to_string())),
        };
        match use_cases::sign_for_campaign(&self.runtime, command, &delivery.metadata).await? {
            Step::Signed(contract) => {
                tracing::info!(contract_id = %contract.id(), "contract created");
                Ok(Handled::Applied)
            }
            Step::Rejected { detail } => {
                tracing::warn!(reason = %detail, "contract rejected; the saga compensates");
                Ok(Handled::Applied)
            }
            Step::AlreadySigned { existing } => {
                tracing::info!(contract_id = %existing, "the pair already has its contract");
                Ok(Handled::Duplicate)
            }
            Step::AlreadyHandled => Ok(Handled::Duplicate),
        }
    }
}
