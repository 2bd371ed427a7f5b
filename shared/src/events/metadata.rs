//! Event metadata, carried beside the Avro body as Pulsar message properties or Pub/Sub
//! attributes, so the contract's schemas stay as the existing services know them.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::convert::{format_wire_datetime, parse_wire_datetime};
use super::derived_id::derived_event_id;
use super::event::IntegrationEvent;
use super::topic::Topic;

/// Property names, exactly as they travel.
pub mod property {
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const CAUSATION_ID: &str = "causation_id";
    pub const OCCURRED_AT: &str = "occurred_at";
    pub const PRODUCER: &str = "producer";
}

/// `producer` of a message that did not say who sent it.
pub const UNKNOWN_PRODUCER: &str = "unknown";

/// Who, when, why and in which saga an event happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    pub event_id: Uuid,
    /// E.g. `CampanaCreada`, `ReporteCompensado`; see [`IntegrationEvent::event_type`].
    pub event_type: String,
    /// The saga: the id of the influencer or campaign that started the flow.
    pub correlation_id: String,
    /// The `event_id` of the event this one reacts to; `None` for a flow's first event.
    pub causation_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Name of the function that produced the event.
    pub producer: String,
}

/// Read access to message properties, whatever map the transport hands over.
pub trait Properties {
    fn property(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> Properties for HashMap<String, String, S> {
    fn property(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Properties for BTreeMap<String, String> {
    fn property(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// What the broker says about a delivered message: the facts metadata falls back on when the
/// producer sent no properties.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub topic: Topic,
    /// The broker's message id, stable across redeliveries (Pulsar `ledger:entry:partition:batch`
    /// or the Pub/Sub `messageId`).
    pub message_id: &'a str,
    pub published_at: DateTime<Utc>,
}

impl EventMetadata {
    /// Metadata for a flow's first event (or one with no causing event): a new UUID v7 id,
    /// occurring now.
    pub fn new(
        event: &IntegrationEvent,
        correlation_id: impl Into<String>,
        producer: impl Into<String>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event.event_type().to_owned(),
            correlation_id: correlation_id.into(),
            causation_id: None,
            // Properties carry microseconds; truncating here keeps a metadata value equal to
            // itself after a trip through them.
            occurred_at: Utc::now().trunc_subsecs(6),
            producer: producer.into(),
        }
    }

    /// Metadata for `event`, produced in reaction to the event described by `self`: same
    /// saga, caused by `self`.
    pub fn follow_up(&self, event: &IntegrationEvent, producer: impl Into<String>) -> Self {
        Self {
            causation_id: Some(self.event_id.to_string()),
            ..Self::new(event, self.correlation_id.clone(), producer)
        }
    }

    /// The message properties (or Pub/Sub attributes) carrying this metadata.
    /// `causation_id` is left out when there is none.
    pub fn to_properties(&self) -> BTreeMap<String, String> {
        let mut properties = BTreeMap::from([
            (property::EVENT_ID.to_owned(), self.event_id.to_string()),
            (property::EVENT_TYPE.to_owned(), self.event_type.clone()),
            (
                property::CORRELATION_ID.to_owned(),
                self.correlation_id.clone(),
            ),
            (
                property::OCCURRED_AT.to_owned(),
                format_wire_datetime(self.occurred_at),
            ),
            (property::PRODUCER.to_owned(), self.producer.clone()),
        ]);
        if let Some(causation_id) = &self.causation_id {
            properties.insert(property::CAUSATION_ID.to_owned(), causation_id.clone());
        }
        properties
    }

    /// Reads metadata from message properties, filling in what other producers leave out
    /// (they usually send no properties at all). An empty or unreadable property counts as
    /// missing:
    ///
    /// - `event_id`: [`derived_event_id`] of the topic and broker message id, stable across
    ///   redeliveries so the inbox still deduplicates;
    /// - `event_type`: from the payload;
    /// - `correlation_id`: the flow root the payload implies, else the event id;
    /// - `occurred_at`: the broker's publish time;
    /// - `producer`: [`UNKNOWN_PRODUCER`].
    pub fn from_properties(
        properties: &impl Properties,
        event: &IntegrationEvent,
        delivery: &Delivery<'_>,
    ) -> Self {
        let get = |name| properties.property(name).filter(|value| !value.is_empty());
        let event_id = get(property::EVENT_ID)
            .and_then(|id| Uuid::parse_str(id).ok())
            .unwrap_or_else(|| derived_event_id(delivery.topic, delivery.message_id));
        let correlation_id = get(property::CORRELATION_ID)
            .or_else(|| event.implied_correlation_id())
            .map_or_else(|| event_id.to_string(), str::to_owned);
        Self {
            event_id,
            event_type: get(property::EVENT_TYPE)
                .unwrap_or_else(|| event.event_type())
                .to_owned(),
            correlation_id,
            causation_id: get(property::CAUSATION_ID).map(str::to_owned),
            occurred_at: get(property::OCCURRED_AT)
                .and_then(|text| parse_wire_datetime(text).ok())
                .unwrap_or(delivery.published_at),
            producer: get(property::PRODUCER)
                .unwrap_or(UNKNOWN_PRODUCER)
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::payload::{CampanaCreadaPayload, ContratoErrorPayload, ReportePayload};

    fn campaign_event() -> IntegrationEvent {
        CampanaCreadaPayload {
            campana_id: Some("camp-67890".into()),
            influencer_id: Some("inf-12345".into()),
            ..Default::default()
        }
        .into()
    }

    fn delivery(message_id: &str) -> Delivery<'_> {
        Delivery {
            topic: Topic::Campanas,
            message_id,
            published_at: DateTime::from_timestamp_millis(1_758_362_400_123).unwrap(),
        }
    }

    #[test]
    fn properties_have_the_contract_names() {
        let metadata = EventMetadata::new(&campaign_event(), "inf-12345", "create-campaign");
        let properties = metadata.to_properties();
        let names: Vec<_> = properties.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "correlation_id",
                "event_id",
                "event_type",
                "occurred_at",
                "producer"
            ]
        );
        assert_eq!(properties["event_type"], "CampanaCreada");
        assert_eq!(properties["correlation_id"], "inf-12345");
        assert_eq!(properties["producer"], "create-campaign");
        assert_eq!(properties["event_id"], metadata.event_id.to_string());
        assert_eq!(
            DateTime::parse_from_rfc3339(&properties["occurred_at"]).unwrap(),
            metadata.occurred_at
        );
    }

    #[test]
    fn round_trips_through_properties() {
        let first = EventMetadata::new(&campaign_event(), "inf-12345", "create-campaign");
        let report: IntegrationEvent = ReportePayload {
            tipo_evento: Some("ReporteCreado".into()),
            ..Default::default()
        }
        .into();
        let second = first.follow_up(&report, "generate-report");
        for metadata in [first, second] {
            let properties = metadata.to_properties();
            let read = EventMetadata::from_properties(&properties, &report, &delivery("1:2:-1:0"));
            assert_eq!(read, metadata);
            let as_hash_map: HashMap<_, _> = properties.into_iter().collect();
            let read = EventMetadata::from_properties(&as_hash_map, &report, &delivery("1:2:-1:0"));
            assert_eq!(read, metadata);
        }
    }

    #[test]
    fn follow_up_stays_in_the_saga() {
        let first = EventMetadata::new(&campaign_event(), "inf-12345", "create-campaign");
        let error: IntegrationEvent = ContratoErrorPayload::default().into();
        let next = first.follow_up(&error, "send-contract");
        assert_eq!(next.correlation_id, "inf-12345");
        assert_eq!(next.causation_id, Some(first.event_id.to_string()));
        assert_eq!(next.event_type, "ContratoError");
        assert_eq!(next.producer, "send-contract");
        assert_ne!(next.event_id, first.event_id);
        assert_eq!(
            next.to_properties()["causation_id"],
            first.event_id.to_string()
        );
    }

    #[test]
    fn foreign_message_without_properties_gets_stable_fallbacks() {
        let none = BTreeMap::new();
        let event = campaign_event();
        let read = EventMetadata::from_properties(&none, &event, &delivery("9:8:-1:0"));
        assert_eq!(read.event_id, derived_event_id(Topic::Campanas, "9:8:-1:0"));
        assert_eq!(read.event_type, "CampanaCreada");
        assert_eq!(read.correlation_id, "camp-67890");
        assert_eq!(read.causation_id, None);
        assert_eq!(read.occurred_at, delivery("").published_at);
        assert_eq!(read.producer, UNKNOWN_PRODUCER);
        let redelivered = EventMetadata::from_properties(&none, &event, &delivery("9:8:-1:0"));
        assert_eq!(redelivered, read);
    }

    #[test]
    fn empty_or_malformed_properties_count_as_missing() {
        let properties = BTreeMap::from([
            ("event_id".to_owned(), "not-a-uuid".to_owned()),
            ("event_type".to_owned(), String::new()),
            ("occurred_at".to_owned(), "yesterday".to_owned()),
            ("causation_id".to_owned(), String::new()),
        ]);
        let read =
            EventMetadata::from_properties(&properties, &campaign_event(), &delivery("1:1:-1:0"));
        assert_eq!(read.event_id, derived_event_id(Topic::Campanas, "1:1:-1:0"));
        assert_eq!(read.event_type, "CampanaCreada");
        assert_eq!(read.causation_id, None);
        assert_eq!(read.occurred_at, delivery("").published_at);
    }

    #[test]
    fn naive_occurred_at_from_other_producers_is_read_as_utc() {
        let properties = BTreeMap::from([(
            "occurred_at".to_owned(),
            "2025-09-13 01:07:56.578686".to_owned(),
        )]);
        let read =
            EventMetadata::from_properties(&properties, &campaign_event(), &delivery("1:1:-1:0"));
        assert_eq!(
            format_wire_datetime(read.occurred_at),
            "2025-09-13T01:07:56.578686Z"
        );
    }

    #[test]
    fn payload_without_ids_correlates_to_its_own_event() {
        let event: IntegrationEvent = CampanaCreadaPayload::default().into();
        let read = EventMetadata::from_properties(&BTreeMap::new(), &event, &delivery("3:3:-1:0"));
        assert_eq!(read.correlation_id, read.event_id.to_string());
    }
}
