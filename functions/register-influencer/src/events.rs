//! The event adapter: the `EventoCrearInfluencer` command registers like the API, with
//! the command's `id`.

use alpes_shared::{
    domain::RegisterInfluencer,
    events::{IntegrationEvent, Topic},
    http::{EventDelivery, EventError, EventHandler, Handled, Origin, Runtime},
};

use crate::use_cases::{self, RegisterError, Registered};

pub struct Commands {
    runtime: Runtime,
}

impl Commands {
    pub fn new(runtime: Runtime) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { runtime })
    }
}

impl EventHandler for Commands {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::CrearInfluencer]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::CrearInfluencer(payload) = &delivery.event else {
            return Err(EventError::Permanent("not an EventoCrearInfluencer".into()));
        };
        let command = RegisterInfluencer::try_from(payload)
            .map_err(|invalid| EventError::Permanent(invalid.to_string()))?;
        let origin = Origin::Event(&delivery.metadata);
        match use_cases::register(&self.runtime, command, origin).await {
            Ok(Registered::Created(_)) => Ok(Handled::Applied),
            Ok(Registered::AlreadyHandled | Registered::Replayed(_)) => Ok(Handled::Duplicate),
            // The same influencer id again, under another event id: already registered.
            Err(RegisterError::IdTaken { .. }) => Ok(Handled::Duplicate),
            Err(RegisterError::Invalid(errors)) => {
                Err(EventError::Permanent(format!("invalid command: {errors}")))
            }
            Err(error @ RegisterError::EmailTaken) => Err(EventError::Permanent(error.to_string())),
            Err(RegisterError::Store(error)) => Err(error.into()),
        }
    }
}
