//! Event payloads as the use cases' commands: one conversion per payload, so that each
//! rule of reading the wire is written once. A payload that converts to no command is a
//! permanent failure for the consumer (it can never be handled), never a retry; unless
//! the payload asks for nothing (a campaign without influencer needs no contract).
//!
//! One file per aggregate the commands are about.

mod campaign;
mod contract;
mod influencer;
mod report;

pub use contract::NoContractAsked;

use uuid::Uuid;

/// Why a payload makes no command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPayload(pub String);

/// A wire id: a UUID, surrounding whitespace allowed.
fn uuid(field: &str, raw: Option<&str>) -> Result<Uuid, InvalidPayload> {
    raw.and_then(|id| Uuid::parse_str(id.trim()).ok())
        .ok_or_else(|| InvalidPayload(format!("{field} {raw:?} is not a UUID")))
}
