//! The event adapter: `EventoCampanaCreada` and `EventoContratoCreado` into facts about
//! their campaign's report.

use alpes_shared::{
    domain::{CampaignReportInput, ContractReportInput},
    events::{IntegrationEvent, Topic},
    http::{EventDelivery, EventError, EventHandler, Handled, Runtime},
};

use crate::use_cases::{self, Fact, Recorded};

pub struct Reports {
    runtime: Runtime,
}

impl Reports {
    pub fn new(runtime: Runtime) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { runtime })
    }
}

impl EventHandler for Reports {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::Campanas, Topic::Contratos]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let fact = match &delivery.event {
            IntegrationEvent::CampanaCreada(campaign) => {
                CampaignReportInput::try_from(campaign).map(Fact::Campaign)
            }
            IntegrationEvent::ContratoCreado(contract) => {
                ContractReportInput::try_from(contract).map(Fact::Contract)
            }
            _ => {
                return Err(EventError::Permanent(
                    "neither an EventoCampanaCreada nor an EventoContratoCreado".into(),
                ));
            }
        }
        .map_err(|invalid| EventError::Permanent(invalid.to_string()))?;
        match use_cases::record(&self.runtime, &fact, &delivery.metadata).await? {
            Recorded::Applied => Ok(Handled::Applied),
            Recorded::AlreadyHandled => Ok(Handled::Duplicate),
            Recorded::Unchanged(why) => Ok(Handled::Ignored(why)),
        }
    }
}
