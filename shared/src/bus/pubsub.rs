use std::{collections::HashMap, time::Duration};

use google_cloud_pubsub::{client::Publisher as TopicPublisher, model::Message};
use tokio::sync::Mutex;

use super::{BusError, Publisher};
use crate::{events::Topic, store::outbox::OutboxMessage};

/// Publishes to Google Pub/Sub: topic `projects/<project>/topics/<short topic name>`,
/// the Avro payload as data, the message properties as attributes (so push subscribers
/// read the same metadata as from Pulsar) plus `message_key`.
///
/// With an emulator (`PUBSUB_EMULATOR_HOST`) the endpoint and anonymous credentials are
/// set explicitly: the official client does not read that variable.
pub struct PubSubBus {
    project: String,
    emulator: Option<String>,
    timeout: Duration,
    publishers: Mutex<HashMap<Topic, TopicPublisher>>,
}

impl PubSubBus {
    pub fn new(project: String, emulator: Option<String>, timeout: Duration) -> Self {
        Self {
            project,
            emulator,
            timeout,
            publishers: Mutex::new(HashMap::new()),
        }
    }

    pub fn topic_path(&self, topic: Topic) -> String {
        format!("projects/{}/topics/{}", self.project, topic.name())
    }

    async fn publisher(&self, topic: Topic) -> Result<TopicPublisher, BusError> {
        let mut publishers = self.publishers.lock().await;
        if let Some(publisher) = publishers.get(&topic) {
            return Ok(publisher.clone());
        }
        let mut builder = TopicPublisher::builder(self.topic_path(topic));
        if let Some(host) = &self.emulator {
            let endpoint = if host.contains("://") {
                host.clone()
            } else {
                format!("http://{host}")
            };
            builder = builder.with_endpoint(endpoint).with_credentials(
                google_cloud_auth::credentials::anonymous::Builder::new().build(),
            );
        }
        let publisher = tokio::time::timeout(self.timeout, builder.build())
            .await
            .map_err(|_| BusError::Timeout(self.timeout))?
            .map_err(|error| BusError::Broker(error.to_string()))?;
        publishers.insert(topic, publisher.clone());
        Ok(publisher)
    }
}

impl Publisher for PubSubBus {
    async fn publish(&self, message: &OutboxMessage) -> Result<(), BusError> {
        let topic = Topic::from_name(&message.topic)
            .ok_or_else(|| BusError::UnknownTopic(message.topic.clone()))?;
        let publisher = self.publisher(topic).await?;
        let mut attributes = message.properties.clone();
        attributes.insert("message_key".to_owned(), message.message_key.clone());
        let pending = publisher.publish(
            Message::new()
                .set_data(message.payload.clone())
                .set_attributes(attributes),
        );
        tokio::time::timeout(self.timeout, pending)
            .await
            .map_err(|_| BusError::Timeout(self.timeout))?
            .map(drop)
            .map_err(|error| BusError::Broker(error.to_string()))
    }

    async fn ready(&self) -> Result<(), BusError> {
        // Building a publisher checks configuration and credentials without sending.
        self.publisher(Topic::Campanas).await.map(drop)
    }
}
