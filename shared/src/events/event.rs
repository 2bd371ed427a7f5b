//! Any event of the contract, for code that handles more than one topic (the outbox, the
//! bridge, a push endpoint).

use super::codec::{DecodeError, EncodeError};
use super::payload::{
    CampanaCreadaPayload, ContratoCreadoPayload, ContratoErrorPayload, CrearInfluencerPayload,
    InfluencerRegistradoPayload, Payload, ReportePayload,
};
use super::topic::Topic;

/// `event_type` of a report payload without `tipo_evento`; only a broken producer sends one.
const UNTYPED_REPORT: &str = "Reporte";

/// One integration event: the payload of one of the six topics.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrationEvent {
    CrearInfluencer(CrearInfluencerPayload),
    InfluencerRegistrado(InfluencerRegistradoPayload),
    CampanaCreada(CampanaCreadaPayload),
    ContratoCreado(ContratoCreadoPayload),
    ContratoError(ContratoErrorPayload),
    Reporte(ReportePayload),
}

impl IntegrationEvent {
    /// The topic the event is published on.
    pub fn topic(&self) -> Topic {
        match self {
            Self::CrearInfluencer(_) => CrearInfluencerPayload::TOPIC,
            Self::InfluencerRegistrado(_) => InfluencerRegistradoPayload::TOPIC,
            Self::CampanaCreada(_) => CampanaCreadaPayload::TOPIC,
            Self::ContratoCreado(_) => ContratoCreadoPayload::TOPIC,
            Self::ContratoError(_) => ContratoErrorPayload::TOPIC,
            Self::Reporte(_) => ReportePayload::TOPIC,
        }
    }

    /// The `event_type` message property. Reports share one topic and record, so theirs is
    /// the payload's `tipo_evento` (`ReporteCreado`, `ReporteActualizado`, `ReporteCompensado`),
    /// passed through as sent; `Reporte` if it is missing.
    pub fn event_type(&self) -> &str {
        match self {
            Self::CrearInfluencer(_) => "CrearInfluencer",
            Self::InfluencerRegistrado(_) => "InfluencerRegistrado",
            Self::CampanaCreada(_) => "CampanaCreada",
            Self::ContratoCreado(_) => "ContratoCreado",
            Self::ContratoError(_) => "ContratoError",
            Self::Reporte(report) => report.tipo_evento.as_deref().unwrap_or(UNTYPED_REPORT),
        }
    }

    /// The message key: the id of the aggregate the event is about, so per-key ordering is
    /// per aggregate. `None` when the producer left that field out.
    ///
    /// A contract error is about the contract that was refused; it has no contract id when
    /// the refusal came before one was assigned, and then the campaign keys it.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::CrearInfluencer(p) => p.id.as_deref(),
            Self::InfluencerRegistrado(p) => p.id_influencer.as_deref(),
            Self::CampanaCreada(p) => p.campana_id.as_deref(),
            Self::ContratoCreado(p) => p.id_contrato.as_deref(),
            Self::ContratoError(p) => p.id_contrato.as_deref().or(p.id_campana.as_deref()),
            Self::Reporte(p) => p.id_reporte.as_deref(),
        }
    }

    /// Best guess at the saga's `correlation_id` for a message that arrived without one:
    /// the influencer or campaign that started the flow, as far as the payload tells.
    pub fn implied_correlation_id(&self) -> Option<&str> {
        match self {
            Self::CrearInfluencer(p) => p.id.as_deref(),
            Self::InfluencerRegistrado(p) => p.id_influencer.as_deref(),
            Self::CampanaCreada(p) => p.campana_id.as_deref(),
            Self::ContratoCreado(p) => p.id_campana.as_deref().or(p.id_contrato.as_deref()),
            Self::ContratoError(p) => p.id_campana.as_deref().or(p.id_contrato.as_deref()),
            Self::Reporte(p) => p.id_campana.as_deref().or(p.id_reporte.as_deref()),
        }
    }

    /// Avro binary of the event's record, as published on [`Self::topic`].
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            Self::CrearInfluencer(p) => p.encode(),
            Self::InfluencerRegistrado(p) => p.encode(),
            Self::CampanaCreada(p) => p.encode(),
            Self::ContratoCreado(p) => p.encode(),
            Self::ContratoError(p) => p.encode(),
            Self::Reporte(p) => p.encode(),
        }
    }

    /// Reads a message body received on `topic`.
    pub fn decode(topic: Topic, bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(match topic {
            Topic::CrearInfluencer => Self::CrearInfluencer(Payload::decode(bytes)?),
            Topic::Influencers => Self::InfluencerRegistrado(Payload::decode(bytes)?),
            Topic::Campanas => Self::CampanaCreada(Payload::decode(bytes)?),
            Topic::Contratos => Self::ContratoCreado(Payload::decode(bytes)?),
            Topic::ContratosError => Self::ContratoError(Payload::decode(bytes)?),
            Topic::Reportes => Self::Reporte(Payload::decode(bytes)?),
        })
    }
}

macro_rules! from_payload {
    ($($payload:ident => $variant:ident),* $(,)?) => {
        $(impl From<$payload> for IntegrationEvent {
            fn from(payload: $payload) -> Self {
                Self::$variant(payload)
            }
        })*
    };
}

from_payload! {
    CrearInfluencerPayload => CrearInfluencer,
    InfluencerRegistradoPayload => InfluencerRegistrado,
    CampanaCreadaPayload => CampanaCreada,
    ContratoCreadoPayload => ContratoCreado,
    ContratoErrorPayload => ContratoError,
    ReportePayload => Reporte,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> [IntegrationEvent; 6] {
        [
            CrearInfluencerPayload {
                id: Some("inf-1".into()),
                ..Default::default()
            }
            .into(),
            InfluencerRegistradoPayload {
                id_influencer: Some("inf-1".into()),
                fecha_registro: Some(1_758_362_400_123),
                ..Default::default()
            }
            .into(),
            CampanaCreadaPayload {
                campana_id: Some("camp-1".into()),
                influencer_id: Some("inf-1".into()),
                ..Default::default()
            }
            .into(),
            ContratoCreadoPayload {
                id_contrato: Some("con-1".into()),
                id_campana: Some("camp-1".into()),
                ..Default::default()
            }
            .into(),
            ContratoErrorPayload {
                id_campana: Some("camp-1".into()),
                error: Some("ContratoRechazado".into()),
                ..Default::default()
            }
            .into(),
            ReportePayload {
                id_reporte: Some("rep-1".into()),
                tipo_evento: Some("ReporteCompensado".into()),
                id_campana: Some("camp-1".into()),
                ..Default::default()
            }
            .into(),
        ]
    }

    #[test]
    fn each_event_lives_on_its_own_topic() {
        let topics = one_of_each().map(|event| event.topic());
        assert_eq!(topics, Topic::ALL);
    }

    #[test]
    fn event_types_name_what_happened() {
        let types = one_of_each().map(|event| event.event_type().to_owned());
        assert_eq!(
            types,
            [
                "CrearInfluencer",
                "InfluencerRegistrado",
                "CampanaCreada",
                "ContratoCreado",
                "ContratoError",
                "ReporteCompensado",
            ]
        );
        assert_eq!(
            IntegrationEvent::Reporte(ReportePayload::default()).event_type(),
            "Reporte"
        );
    }

    #[test]
    fn keys_are_aggregate_ids() {
        let keys = one_of_each().map(|event| event.key().map(str::to_owned));
        let expected = ["inf-1", "inf-1", "camp-1", "con-1", "camp-1", "rep-1"];
        assert_eq!(keys, expected.map(|key| Some(key.to_owned())));
        assert_eq!(
            IntegrationEvent::from(ContratoCreadoPayload::default()).key(),
            None
        );
    }

    #[test]
    fn implied_correlation_points_at_the_flow_root() {
        let roots = one_of_each().map(|event| event.implied_correlation_id().map(str::to_owned));
        let expected = ["inf-1", "inf-1", "camp-1", "camp-1", "camp-1", "camp-1"];
        assert_eq!(roots, expected.map(|root| Some(root.to_owned())));
    }

    #[test]
    fn every_event_round_trips_through_its_topic() {
        for event in one_of_each() {
            let bytes = event.encode().unwrap();
            assert_eq!(
                IntegrationEvent::decode(event.topic(), &bytes).unwrap(),
                event
            );
        }
    }
}
