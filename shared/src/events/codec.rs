//! Avro plumbing shared by every payload: the `{data: [null, Payload]}` envelope and the
//! nullable-union fields inside it.
//!
//! Records are built as [`Value`]s by hand rather than through serde so the union branch of
//! every field is explicit: the bytes must match what fastavro writes for the Python services.

use std::io::{self, Read};

use apache_avro::types::Value;
use apache_avro::{from_avro_datum, to_avro_datum};

use super::topic::Topic;

/// Name of the single field of every record, holding the payload.
const DATA_FIELD: &str = "data";

/// Union branches of `["null", T]`, the shape of `data` and of every payload field.
const NULL_BRANCH: u32 = 0;
const VALUE_BRANCH: u32 = 1;

/// A message body that is not a record of the topic's schema.
///
/// Every variant is permanent: redelivering the same bytes fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{topic}: not Avro of the topic's schema: {source}")]
    Avro {
        topic: Topic,
        #[source]
        source: apache_avro::Error,
    },
    #[error("{topic}: the record is cut short")]
    Truncated { topic: Topic },
    #[error("{topic}: {count} unread byte(s) after the record")]
    TrailingBytes { topic: Topic, count: usize },
    /// `data` is null: the producer sent a record with no payload, so there is nothing to act on.
    #[error("{topic}: the record carries no payload (`data` is null)")]
    EmptyRecord { topic: Topic },
    #[error("{topic}: field `{field}` {problem}")]
    UnexpectedShape {
        topic: Topic,
        field: &'static str,
        problem: String,
    },
}

impl DecodeError {
    /// The topic whose bytes could not be read.
    pub fn topic(&self) -> Topic {
        match self {
            DecodeError::Avro { topic, .. }
            | DecodeError::Truncated { topic }
            | DecodeError::TrailingBytes { topic, .. }
            | DecodeError::EmptyRecord { topic }
            | DecodeError::UnexpectedShape { topic, .. } => *topic,
        }
    }
}

/// A payload the Avro library refused to write. Payload types are built from the schema's own
/// field list, so this means a defect, never bad input; it is still an error, not a panic,
/// because a panic aborts the whole function instance.
#[derive(Debug, thiserror::Error)]
#[error("{topic}: cannot encode the record: {source}")]
pub struct EncodeError {
    pub topic: Topic,
    #[source]
    pub source: apache_avro::Error,
}

/// A value that can sit in the non-null branch of a payload field.
pub(crate) trait WireValue: Sized {
    fn to_avro(&self) -> Value;
    /// Returns the unexpected value back so the caller can describe it.
    fn from_avro(value: Value) -> Result<Self, Value>;
}

impl WireValue for String {
    fn to_avro(&self) -> Value {
        Value::String(self.clone())
    }

    fn from_avro(value: Value) -> Result<Self, Value> {
        match value {
            Value::String(text) => Ok(text),
            other => Err(other),
        }
    }
}

impl WireValue for f32 {
    fn to_avro(&self) -> Value {
        Value::Float(*self)
    }

    fn from_avro(value: Value) -> Result<Self, Value> {
        match value {
            Value::Float(number) => Ok(number),
            other => Err(other),
        }
    }
}

impl WireValue for i64 {
    fn to_avro(&self) -> Value {
        Value::Long(*self)
    }

    fn from_avro(value: Value) -> Result<Self, Value> {
        match value {
            Value::Long(number) => Ok(number),
            other => Err(other),
        }
    }
}

impl WireValue for Vec<String> {
    fn to_avro(&self) -> Value {
        Value::Array(self.iter().map(WireValue::to_avro).collect())
    }

    fn from_avro(value: Value) -> Result<Self, Value> {
        let Value::Array(items) = value else {
            return Err(value);
        };
        items.into_iter().map(String::from_avro).collect()
    }
}

/// A `["null", T]` union value for one payload field.
pub(crate) fn nullable<T: WireValue>(name: &str, value: &Option<T>) -> (String, Value) {
    (
        name.to_owned(),
        union_of(value.as_ref().map(WireValue::to_avro)),
    )
}

fn union_of(value: Option<Value>) -> Value {
    match value {
        Some(value) => Value::Union(VALUE_BRANCH, Box::new(value)),
        None => Value::Union(NULL_BRANCH, Box::new(Value::Null)),
    }
}

/// Wraps payload fields as `{data: payload}` and writes them without container header.
pub(crate) fn encode_record(
    topic: Topic,
    fields: Vec<(String, Value)>,
) -> Result<Vec<u8>, EncodeError> {
    let record = Value::Record(vec![(
        DATA_FIELD.to_owned(),
        union_of(Some(Value::Record(fields))),
    )]);
    to_avro_datum(topic.schema(), record).map_err(|source| EncodeError { topic, source })
}

/// The decoded fields of one payload, taken out one by one by the payload type.
pub(crate) struct PayloadFields {
    topic: Topic,
    fields: Vec<(String, Value)>,
}

/// Reads `{data: payload}` written with the topic's schema and returns the payload's fields.
pub(crate) fn decode_record(topic: Topic, bytes: &[u8]) -> Result<PayloadFields, DecodeError> {
    let mut reader = EndAwareReader {
        unread: bytes,
        read_past_end: false,
    };
    let decoded = from_avro_datum(topic.schema(), &mut reader, None);
    if reader.read_past_end {
        return Err(DecodeError::Truncated { topic });
    }
    let record = decoded.map_err(|source| DecodeError::Avro { topic, source })?;
    if !reader.unread.is_empty() {
        return Err(DecodeError::TrailingBytes {
            topic,
            count: reader.unread.len(),
        });
    }
    let shape_error = |field: &'static str, found: &Value| DecodeError::UnexpectedShape {
        topic,
        field,
        problem: format!("has an unexpected value {found:?}"),
    };
    let data = match record {
        Value::Record(fields) => fields
            .into_iter()
            .find_map(|(name, value)| (name == DATA_FIELD).then_some(value))
            .ok_or_else(|| shape_error(DATA_FIELD, &Value::Null))?,
        other => return Err(shape_error(DATA_FIELD, &other)),
    };
    match unwrap_union(data) {
        None => Err(DecodeError::EmptyRecord { topic }),
        Some(Value::Record(fields)) => Ok(PayloadFields { topic, fields }),
        Some(other) => Err(shape_error(DATA_FIELD, &other)),
    }
}

/// apache-avro reads a union index cut off by the end of input as null, so a message cut at a
/// field boundary would pass for one with the remaining fields null. A complete record never
/// reads past its last byte, so any attempt to do so means the message was cut.
struct EndAwareReader<'a> {
    unread: &'a [u8],
    read_past_end: bool,
}

impl Read for EndAwareReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !buf.is_empty() && self.unread.is_empty() {
            self.read_past_end = true;
        }
        self.unread.read(buf)
    }
}

/// `None` for the null branch. The decoder always yields `Union` for union schemas; a bare
/// value is accepted too so a future decoder change cannot turn into a wrong `None`.
fn unwrap_union(value: Value) -> Option<Value> {
    match value {
        Value::Union(_, inner) => match *inner {
            Value::Null => None,
            inner => Some(inner),
        },
        Value::Null => None,
        other => Some(other),
    }
}

impl PayloadFields {
    /// Takes one nullable field; a missing field or a value of another type is an error.
    pub(crate) fn take<T: WireValue>(
        &mut self,
        field: &'static str,
    ) -> Result<Option<T>, DecodeError> {
        let topic = self.topic;
        let slot = self
            .fields
            .iter_mut()
            .find(|(name, _)| name == field)
            .ok_or_else(|| DecodeError::UnexpectedShape {
                topic,
                field,
                problem: "is missing from the record".to_owned(),
            })?;
        let value = std::mem::replace(&mut slot.1, Value::Null);
        unwrap_union(value)
            .map(T::from_avro)
            .transpose()
            .map_err(|found| DecodeError::UnexpectedShape {
                topic,
                field,
                problem: format!("has an unexpected value {found:?}"),
            })
    }
}
