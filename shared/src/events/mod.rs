//! Integration events: the wire contract shared with the existing services.
//!
//! Every topic carries Avro binary (no container header) of one record `{data: [null, Payload]}`
//! whose fields are all nullable unions. The schemas are compiled in from `avro/` (copied from
//! the contract, never read at run time), and encoding is byte-identical to the official Python
//! Pulsar client, so services on either side of the rewrite read each other's messages.
//!
//! - [`Topic`]: the catalogue (names, record names, schemas).
//! - [`Payload`] types, one per topic, and [`IntegrationEvent`] over all of them.
//! - [`EventMetadata`]: ids, saga correlation and causation, carried as message properties.
//! - [`commands`]: payloads as the use cases' commands (one translation layer).
//! - [`convert`]: wire floats and date strings to decimals and UTC instants.

mod codec;
pub mod commands;
pub mod convert;
mod derived_id;
mod event;
mod metadata;
mod payload;
mod report;
mod topic;

pub use codec::{DecodeError, EncodeError};
pub use derived_id::derived_event_id;
pub use event::IntegrationEvent;
pub use metadata::{Delivery, EventMetadata, Properties, UNKNOWN_PRODUCER, property};
pub use payload::{
    CampanaCreadaPayload, ContratoCreadoPayload, ContratoErrorPayload, CrearInfluencerPayload,
    InfluencerRegistradoPayload, Payload, ReportEventType, ReportePayload,
};
pub use report::report_event;
pub use topic::{TOPIC_PREFIX, Topic, UnknownTopic};
