//! The event adapter: `EventoContratoError`, the saga's failed contract step, compensates
//! its campaign.

use alpes_shared::{
    domain::CompensateCampaign,
    events::{IntegrationEvent, Topic},
    http::{EventDelivery, EventError, EventHandler, Handled, Runtime},
};

use crate::use_cases::{self, Compensated};

pub struct Compensations {
    runtime: Runtime,
}

impl Compensations {
    pub fn new(runtime: Runtime) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { runtime })
    }
}

impl EventHandler for Compensations {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::ContratosError]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::ContratoError(payload) = &delivery.event else {
            return Err(EventError::Permanent("not an EventoContratoError".into()));
        };
        let command = CompensateCampaign::try_from(payload)
            .map_err(|invalid| EventError::Permanent(invalid.to_string()))?;
        Ok(
            match use_cases::compensate_campaign(&self.runtime, command, &delivery.metadata).await?
            {
                Compensated::Cancelled | Compensated::Pending => Handled::Applied,
                Compensated::AlreadyCancelled(report) => {
                    Handled::Ignored(format!("report {report} is already cancelled"))
                }
                Compensated::AlreadyHandled => Handled::Duplicate,
            },
        )
    }
}
