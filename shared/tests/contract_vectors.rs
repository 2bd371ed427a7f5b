//! Golden vectors of the wire contract: Avro bytes written by the official Python Pulsar client
//! (fastavro). Rust must read each to exactly the listed values and write the listed values to
//! exactly the same bytes, or the existing services and ours stop understanding each other.
//!
//! `tests/data/contract-vectors.json` is a copy of the contract's `vectors.json`.

use std::collections::BTreeMap;
use std::fmt::Debug;

use alpes_shared::events::convert::{
    datetime_from_epoch_millis, format_wire_datetime, money_from_wire, parse_wire_datetime,
};
use alpes_shared::events::{
    CampanaCreadaPayload, ContratoCreadoPayload, ContratoErrorPayload, CrearInfluencerPayload,
    InfluencerRegistradoPayload, IntegrationEvent, Payload, ReportePayload, Topic,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

const VECTORS: &str = include_str!("data/contract-vectors.json");

struct Vector {
    topic: Topic,
    record: String,
    data: Map<String, Value>,
    bytes: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let file: Value = serde_json::from_str(VECTORS).expect("vectors file is JSON");
    file["vectors"]
        .as_array()
        .expect("`vectors` is an array")
        .iter()
        .map(|vector| Vector {
            topic: Topic::from_name(vector["topic"].as_str().expect("topic is a string"))
                .expect("topic is in the catalogue"),
            record: vector["record"]
                .as_str()
                .expect("record is a string")
                .to_owned(),
            data: vector["data"]
                .as_object()
                .expect("data is an object")
                .clone(),
            bytes: hex::decode(vector["avro_hex"].as_str().expect("avro_hex is a string"))
                .expect("avro_hex is hex"),
        })
        .collect()
}

/// Compares a decoded payload with the vector's listed values, field by field: same field
/// names (order is checked by the bytes, `Map` sorts), same nulls, same strings and arrays, and `float`s equal as `f32`, bit for bit.
fn assert_fields_equal(topic: Topic, decoded: &Map<String, Value>, listed: &Map<String, Value>) {
    let decoded_names: Vec<_> = decoded.keys().collect();
    let listed_names: Vec<_> = listed.keys().collect();
    assert_eq!(decoded_names, listed_names, "{topic}: field names");
    for (name, listed_value) in listed {
        let decoded_value = &decoded[name];
        match (decoded_value, listed_value) {
            (Value::Number(got), Value::Number(want)) if want.is_f64() || got.is_f64() => {
                // Both are f32 values widened to f64 by JSON; narrowing back is exact.
                let got = got.as_f64().expect("a float") as f32;
                let want = want.as_f64().expect("a float") as f32;
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{topic}.{name}: {got} vs {want}"
                );
            }
            _ => assert_eq!(decoded_value, listed_value, "{topic}.{name}"),
        }
    }
}

fn check_vector<P>(vector: &Vector)
where
    P: Payload + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let topic = vector.topic;
    assert_eq!(P::TOPIC, topic);
    assert_eq!(vector.record, topic.record_name(), "{topic}: record name");

    let decoded = P::decode(&vector.bytes).unwrap_or_else(|err| panic!("{topic}: {err}"));
    let Value::Object(decoded_fields) = serde_json::to_value(&decoded).expect("payload to JSON")
    else {
        panic!("{topic}: payload is not a JSON object");
    };
    assert_fields_equal(topic, &decoded_fields, &vector.data);

    let listed: P = serde_json::from_value(Value::Object(vector.data.clone()))
        .unwrap_or_else(|err| panic!("{topic}: listed values do not fit the payload type: {err}"));
    assert_eq!(decoded, listed, "{topic}: decoded vs listed");
    let encoded = listed
        .encode()
        .unwrap_or_else(|err| panic!("{topic}: {err}"));
    assert_eq!(
        hex::encode(&encoded),
        hex::encode(&vector.bytes),
        "{topic}: encoded bytes"
    );
}

#[test]
fn vectors_cover_every_topic_once() {
    let topics: Vec<_> = vectors().iter().map(|vector| vector.topic).collect();
    assert_eq!(topics, Topic::ALL);
}

#[test]
fn every_vector_decodes_to_its_values_and_encodes_to_its_bytes() {
    for vector in vectors() {
        match vector.topic {
            Topic::CrearInfluencer => check_vector::<CrearInfluencerPayload>(&vector),
            Topic::Influencers => check_vector::<InfluencerRegistradoPayload>(&vector),
            Topic::Campanas => check_vector::<CampanaCreadaPayload>(&vector),
            Topic::Contratos => check_vector::<ContratoCreadoPayload>(&vector),
            Topic::ContratosError => check_vector::<ContratoErrorPayload>(&vector),
            Topic::Reportes => check_vector::<ReportePayload>(&vector),
        }
    }
}

#[test]
fn every_vector_round_trips_as_an_integration_event() {
    for vector in vectors() {
        let event = IntegrationEvent::decode(vector.topic, &vector.bytes)
            .unwrap_or_else(|err| panic!("{}: {err}", vector.topic));
        assert_eq!(event.topic(), vector.topic);
        assert_eq!(
            event.encode().expect("encodes"),
            vector.bytes,
            "{}",
            vector.topic
        );
    }
}

#[test]
fn vectors_have_the_expected_event_types_and_keys() {
    let described: Vec<_> = vectors()
        .iter()
        .map(|vector| {
            let event = IntegrationEvent::decode(vector.topic, &vector.bytes).expect("decodes");
            (
                event.event_type().to_owned(),
                event.key().map(str::to_owned),
            )
        })
        .collect();
    let expected = [
        ("CrearInfluencer", "7d3c1b2a-1111-4e6f-9a55-0c1d2e3f4a5b"),
        (
            "InfluencerRegistrado",
            "7d3c1b2a-1111-4e6f-9a55-0c1d2e3f4a5b",
        ),
        ("CampanaCreada", "camp-67890"),
        ("ContratoCreado", "fdad3d32-f6ea-4836-bc11-bb622036ab7c"),
        ("ContratoError", "0b6f1e2d-2222-4c3b-8a7f-123456789abc"),
        ("ReporteCompensado", "5f1c0c7e-3333-4d2a-8b1e-abcdefabcdef"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(event_type, key)| ((*event_type).to_owned(), Some((*key).to_owned())))
        .collect();
    assert_eq!(described, expected);
}

/// The vectors carry every date shape the existing producers send (naive with a space, naive
/// with `T`, with and without fraction, RFC 3339 with `Z`): each must read as a UTC instant.
#[test]
fn every_date_string_in_the_vectors_reads_as_utc() {
    let mut read = BTreeMap::new();
    for vector in vectors() {
        for (name, value) in &vector.data {
            if let (true, Value::String(text)) = (name.starts_with("fecha_"), value) {
                let instant = parse_wire_datetime(text)
                    .unwrap_or_else(|err| panic!("{}.{name}: {err}", vector.topic));
                read.insert(
                    format!("{}.{name}", vector.topic),
                    format_wire_datetime(instant),
                );
            }
        }
    }
    let expected = [
        (
            "eventos-crear-influencer.fecha_creacion",
            "2025-09-20T10:00:00.123456Z",
        ),
        (
            "eventos-crear-influencer.fecha_actualizacion",
            "2025-09-20T10:00:00.123456Z",
        ),
        (
            "eventos-campanas.fecha_inicio",
            "2024-06-01T00:00:00.000000Z",
        ),
        ("eventos-campanas.fecha_fin", "2024-08-31T23:59:59.000000Z"),
        (
            "eventos-campanas.fecha_creacion",
            "2025-09-20T10:00:00.123456Z",
        ),
        (
            "eventos-contratos.fecha_creacion",
            "2025-09-13T01:07:56.578686Z",
        ),
        (
            "eventos-contratos-error.fecha_creacion",
            "2025-09-20T10:00:00.123456Z",
        ),
        (
            "eventos-reportes.fecha_evento",
            "2025-09-20T10:00:01.000000Z",
        ),
    ];
    let expected: BTreeMap<_, _> = expected
        .iter()
        .map(|(field, utc)| ((*field).to_owned(), (*utc).to_owned()))
        .collect();
    assert_eq!(read, expected);
}

#[test]
fn registration_epoch_millis_reads_as_utc() {
    let bytes = &vectors()[1].bytes;
    let payload = InfluencerRegistradoPayload::decode(bytes).expect("decodes");
    let millis = payload.fecha_registro.expect("fecha_registro is set");
    let instant = datetime_from_epoch_millis(millis).expect("in range");
    assert_eq!(format_wire_datetime(instant), "2025-09-20T10:00:00.123000Z");
}

#[test]
fn every_amount_in_the_vectors_reads_as_two_place_money() {
    for vector in vectors() {
        for (name, value) in &vector.data {
            if let Some(amount) = value.as_f64().filter(|_| name != "fecha_registro") {
                let money = money_from_wire(amount as f32)
                    .unwrap_or_else(|err| panic!("{}.{name}: {err}", vector.topic));
                assert_eq!(money.to_string(), "2500.00", "{}.{name}", vector.topic);
            }
        }
    }
}
