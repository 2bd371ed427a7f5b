//! Publishing integration events: one small trait, a Pulsar and a Pub/Sub implementation,
//! and the outbox relay that drives them.

mod pubsub;
mod pulsar;
pub mod relay;

use std::future::Future;

pub use self::{
    pubsub::PubSubBus,
    pulsar::{DEFAULT_NAMESPACE, PulsarBus, PulsarSettings, parse_namespace, topic_in},
};
use crate::store::outbox::OutboxMessage;

/// Why a publish failed. Every failure is retried later from the outbox.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the broker did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the broker refused or failed: {0}")]
    Broker(String),
    #[error("unknown topic {0}")]
    UnknownTopic(String),
}

/// Something that takes an outbox message and makes it a broker message.
pub trait Publisher: Send + Sync {
    /// Publishes `message` and resolves once the broker has persisted it.
    fn publish(&self, message: &OutboxMessage)
    -> impl Future<Output = Result<(), BusError>> + Send;

    /// Publishes `messages` in order and answers each one's outcome, in order. The
    /// default sends them one after the other; a broker client that can keep several in
    /// flight on one ordered producer overrides it (the relay's sweeps drain a backlog
    /// with it).
    fn publish_all(
        &self,
        messages: &[OutboxMessage],
    ) -> impl Future<Output = Vec<Result<(), BusError>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(messages.len());
            for message in messages {
                outcomes.push(self.publish(message).await);
            }
            outcomes
        }
    }

    /// Whether the broker answers, for `/ready`.
    fn ready(&self) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// The bus a function is configured with (`EVENT_BUS`).
pub enum EventBus {
    Pulsar(PulsarBus),
    PubSub(PubSubBus),
}

impl Publisher for EventBus {
    async fn publish(&self, message: &OutboxMessage) -> Result<(), BusError> {
        match self {
            Self::Pulsar(bus) => bus.publish(message).await,
            Self::PubSub(bus) => bus.publish(message).await,
        }
    }

    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<Result<(), BusError>> {
        match self {
            Self::Pulsar(bus) => bus.publish_all(messages).await,
            Self::PubSub(bus) => bus.publish_all(messages).await,
        }
    }

    async fn ready(&self) -> Result<(), BusError> {
        match self {
            Self::Pulsar(bus) => bus.ready().await,
            Self::PubSub(bus) => bus.ready().await,
        }
    }
}
