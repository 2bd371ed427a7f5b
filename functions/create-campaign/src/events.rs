//! The event adapter: `EventoInfluencerRegistrado` gives the influencer its welcome
//! campaign.

use alpes_shared::{
    domain::WelcomeInfluencer,
    events::{IntegrationEvent, Topic},
    http::{EventDelivery, EventError, EventHandler, Handled, Runtime},
};

use crate::use_cases::{self, Welcomed};

pub struct Welcomes {
    runtime: Runtime,
}

impl Welcomes {
    pub fn new(runtime: Runtime) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { runtime })
    }
}

impl EventHandler for Welcomes {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::Influencers]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::InfluencerRegistrado(registered) = &delivery.event else {
            return Err(EventError::Permanent(
                "not an EventoInfluencerRegistrado".into(),
            ));
        };
        let command = WelcomeInfluencer::try_from(registered).map_err(|invalid| {
            EventError::Permanent(format!("cannot welcome the influencer: {invalid}"))
        })?;
        match use_cases::welcome(&self.runtime, command, &delivery.metadata).await? {
            Welcomed::Created(campaign_id) => {
                tracing::info!(%campaign_id, "welcome campaign created");
                Ok(Handled::Applied)
            }
            Welcomed::AlreadyWelcomed => Ok(Handled::Duplicate),
        }
    }
}
