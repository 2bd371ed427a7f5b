//! One type per topic, field for field as the Avro schema declares it.
//!
//! These types are the wire, not the domain: names stay Spanish, every field is optional
//! (every schema field is a nullable union), amounts are `f32` and dates are strings as
//! producers wrote them. Turn them into domain values with [`super::convert`] at the edge.

use serde::{Deserialize, Serialize};

use super::codec::{self, DecodeError, EncodeError};
use super::topic::Topic;

/// The payload of one topic's record, readable and writable as Avro binary.
pub trait Payload: Sized {
    /// The topic this payload travels on.
    const TOPIC: Topic;
    /// Field names in schema order; a test checks them against the schema.
    const FIELD_NAMES: &'static [&'static str];

    /// Avro binary of `{data: self}`, without container header, byte-identical to fastavro.
    fn encode(&self) -> Result<Vec<u8>, EncodeError>;

    /// Reads Avro binary of the topic's record. A record whose `data` is null is
    /// [`DecodeError::EmptyRecord`].
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// Declares a payload struct and its Avro mapping from one field list, so the struct, the
/// encoder and the decoder cannot disagree about a field.
macro_rules! wire_payload {
    (
        $(#[$meta:meta])*
        pub struct $name:ident on $topic:ident {
            $( $(#[$field_meta:meta])* $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: Option<$ty>, )*
        }

        impl Payload for $name {
            const TOPIC: Topic = Topic::$topic;
            const FIELD_NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

            fn encode(&self) -> Result<Vec<u8>, EncodeError> {
                codec::encode_record(
                    Self::TOPIC,
                    vec![$( codec::nullable(stringify!($field), &self.$field) ),*],
                )
            }

            fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
                let mut fields = codec::decode_record(Self::TOPIC, bytes)?;
                Ok(Self {
                    $( $field: fields.take(stringify!($field))?, )*
                })
            }
        }
    };
}

wire_payload! {
    /// `CrearInfluencerPayload`: a command from external tools to register an influencer.
    pub struct CrearInfluencerPayload on CrearInfluencer {
        /// The influencer's id, chosen by the sender; redelivery is detected by it.
        id: String,
        nombre: String,
        email: String,
        categorias: Vec<String>,
        descripcion: String,
        biografia: String,
        sitio_web: String,
        telefono: String,
        /// Naive (`2025-09-20T10:00:00.123456`) from the existing tools.
        fecha_creacion: String,
        fecha_actualizacion: String,
    }
}

wire_payload! {
    /// `InfluencerRegistradoPayload`.
    pub struct InfluencerRegistradoPayload on Influencers {
        id_influencer: String,
        nombre: String,
        email: String,
        categorias: Vec<String>,
        /// Epoch milliseconds, unlike every other date of the contract.
        fecha_registro: i64,
    }
}

wire_payload! {
    /// `CampanaCreadaPayload`.
    pub struct CampanaCreadaPayload on Campanas {
        /// Not always a UUID: existing producers send ids like `camp-67890`.
        campana_id: String,
        nombre: String,
        descripcion: String,
        tipo_comision: String,
        valor_comision: f32,
        moneda: String,
        categorias_objetivo: Vec<String>,
        fecha_inicio: String,
        fecha_fin: String,
        /// Set when the campaign is for one influencer; then a contract follows.
        influencer_id: String,
        influencer_nombre: String,
        influencer_email: String,
        monto_base: f32,
        entregables: String,
        tipo_contrato: String,
        fecha_creacion: String,
    }
}

wire_payload! {
    /// `ContratoCreadoPayload`.
    pub struct ContratoCreadoPayload on Contratos {
        id_contrato: String,
        id_influencer: String,
        id_campana: String,
        monto_total: f32,
        moneda: String,
        tipo_contrato: String,
        fecha_creacion: String,
    }
}

wire_payload! {
    /// `ContratoErrorPayload`: the rejected contract step that triggers compensation.
    pub struct ContratoErrorPayload on ContratosError {
        id_contrato: String,
        id_influencer: String,
        id_campana: String,
        monto_total: f32,
        moneda: String,
        tipo_contrato: String,
        fecha_creacion: String,
        /// A code, e.g. `ContratoRechazado`.
        error: String,
        /// For humans; compensation copies it into the report's `motivo`.
        error_detalle: String,
    }
}

wire_payload! {
    /// `ReportePayload`: one record type for the three report events, told apart by
    /// `tipo_evento` (see [`ReportEventType`]).
    pub struct ReportePayload on Reportes {
        id_reporte: String,
        tipo_evento: String,
        nombre: String,
        tipo_reporte: String,
        estado: String,
        id_campana: String,
        id_contrato: String,
        id_influencer: String,
        monto_total: f32,
        moneda: String,
        motivo: String,
        fecha_evento: String,
    }
}

/// The values of [`ReportePayload::tipo_evento`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportEventType {
    /// `ReporteCreado`.
    Created,
    /// `ReporteActualizado`.
    Updated,
    /// `ReporteCompensado`: the report was cancelled by the saga's compensation.
    Compensated,
}

impl ReportEventType {
    pub const ALL: [ReportEventType; 3] = [Self::Created, Self::Updated, Self::Compensated];

    /// The wire value of `tipo_evento`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "ReporteCreado",
            Self::Updated => "ReporteActualizado",
            Self::Compensated => "ReporteCompensado",
        }
    }

    /// Reads a wire value of `tipo_evento`; `None` for anything else.
    pub fn from_wire(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

impl ReportePayload {
    /// The report event this payload announces, if `tipo_evento` is one we know.
    pub fn event_type(&self) -> Option<ReportEventType> {
        self.tipo_evento
            .as_deref()
            .and_then(ReportEventType::from_wire)
    }
}

#[cfg(test)]
mod tests {
    use apache_avro::Schema;

    use super::*;

    fn schema_field_names(topic: Topic) -> Vec<String> {
        let Schema::Record(record) = topic.schema() else {
            panic!("{topic}: not a record");
        };
        let Schema::Union(data) = &record.fields[0].schema else {
            panic!("{topic}: data is not a union");
        };
        let [Schema::Null, Schema::Record(payload)] = data.variants() else {
            panic!("{topic}: data is not [null, record]");
        };
        payload
            .fields
            .iter()
            .map(|field| field.name.clone())
            .collect()
    }

    fn assert_fields_match_schema<P: Payload>() {
        assert_eq!(P::FIELD_NAMES, schema_field_names(P::TOPIC), "{}", P::TOPIC);
    }

    #[test]
    fn payload_fields_are_the_schema_fields_in_order() {
        assert_fields_match_schema::<CrearInfluencerPayload>();
        assert_fields_match_schema::<InfluencerRegistradoPayload>();
        assert_fields_match_schema::<CampanaCreadaPayload>();
        assert_fields_match_schema::<ContratoCreadoPayload>();
        assert_fields_match_schema::<ContratoErrorPayload>();
        assert_fields_match_schema::<ReportePayload>();
    }

    #[test]
    fn every_schema_field_is_a_nullable_union() {
        for topic in Topic::ALL {
            let Schema::Record(record) = topic.schema() else {
                panic!("{topic}: not a record");
            };
            let Schema::Union(data) = &record.fields[0].schema else {
                panic!("{topic}: data is not a union");
            };
            let Schema::Record(payload) = &data.variants()[1] else {
                panic!("{topic}: data is not [null, record]");
            };
            for field in &payload.fields {
                let Schema::Union(union) = &field.schema else {
                    panic!("{topic}.{}: not a union", field.name);
                };
                assert_eq!(union.variants().len(), 2, "{topic}.{}", field.name);
                assert_eq!(union.variants()[0], Schema::Null, "{topic}.{}", field.name);
            }
        }
    }

    #[test]
    fn empty_payload_round_trips_as_all_nulls() {
        let empty = ContratoCreadoPayload::default();
        let bytes = empty.encode().unwrap();
        // data branch 1, then branch 0 (null) for each of the 7 fields.
        assert_eq!(bytes, [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ContratoCreadoPayload::decode(&bytes).unwrap(), empty);
    }

    #[test]
    fn empty_array_is_a_single_zero_block_like_fastavro() {
        let payload = InfluencerRegistradoPayload {
            categorias: Some(vec![]),
            ..Default::default()
        };
        let bytes = payload.encode().unwrap();
        assert_eq!(bytes, [2, 0, 0, 0, 2, 0, 0]);
        assert_eq!(
            InfluencerRegistradoPayload::decode(&bytes).unwrap(),
            payload
        );
    }

    #[test]
    fn null_data_is_an_empty_record_error() {
        let err = CampanaCreadaPayload::decode(&[0]).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::EmptyRecord {
                    topic: Topic::Campanas
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "eventos-campanas: the record carries no payload (`data` is null)"
        );
    }

    #[test]
    fn truncated_bytes_are_an_error_naming_the_topic() {
        let bytes = ContratoCreadoPayload {
            id_contrato: Some("c-1".to_owned()),
            ..Default::default()
        }
        .encode()
        .unwrap();
        // Every cut, including those at a field boundary where the decoder would read null.
        for cut in 0..bytes.len() {
            let err = ContratoCreadoPayload::decode(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Truncated {
                        topic: Topic::Contratos
                    }
                ),
                "{cut}: {err}"
            );
        }
        let err = ContratoCreadoPayload::decode(&bytes[..4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "eventos-contratos: the record is cut short"
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = ContratoCreadoPayload::default().encode().unwrap();
        bytes.push(0);
        let err = ContratoCreadoPayload::decode(&bytes).unwrap_err();
        assert!(
            matches!(err, DecodeError::TrailingBytes { count: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn invalid_union_branch_is_an_avro_error() {
        for bytes in [&[4][..], &[2, 6], &[1]] {
            let err = ContratoCreadoPayload::decode(bytes).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Avro {
                        topic: Topic::Contratos,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(
                err.to_string().starts_with("eventos-contratos: not Avro"),
                "{err}"
            );
        }
    }

    #[test]
    fn bytes_of_another_topic_do_not_pass_silently() {
        let campaign = CampanaCreadaPayload {
            campana_id: Some("camp-1".to_owned()),
            nombre: Some("Verano".to_owned()),
            ..Default::default()
        };
        let bytes = campaign.encode().unwrap();
        assert!(ReportePayload::decode(&bytes).is_err());
    }

    #[test]
    fn report_event_types_read_back_from_the_wire() {
        for kind in ReportEventType::ALL {
            assert_eq!(ReportEventType::from_wire(kind.as_str()), Some(kind));
        }
        assert_eq!(ReportEventType::from_wire("reportecreado"), None);
        let payload = ReportePayload {
            tipo_evento: Some("ReporteActualizado".to_owned()),
            ..Default::default()
        };
        assert_eq!(payload.event_type(), Some(ReportEventType::Updated));
        assert_eq!(ReportePayload::default().event_type(), None);
    }
}
