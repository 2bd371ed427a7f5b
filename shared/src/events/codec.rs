//! Avro plumbing shared by every payload: the `{data: [null, Payload]}` envelope and the
//! nullable-union fields inside it.
//!
//! Records are built as [`Value`]s by hand rather than through serde so the union branch of
//! every field is explicit: the bytes must match what fastavro writes for the Python services.

use std::io::{self, Read};

use apache_avro::types::Value;
use apache_avro::{Schema, from_avro_datum, to_avro_datum};

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
    /// A string length or array block count that is negative: no encoder writes one.
    #[error("{topic}: {what} of {declared}")]
    NegativeLength {
        topic: Topic,
        what: &'static str,
        declared: i64,
    },
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
            | DecodeError::NegativeLength { topic, .. }
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
    match check_lengths(topic.schema(), &mut &bytes[..]) {
        Ok(()) | Err(Unchecked::Defer) => {}
        Err(Unchecked::Truncated) => return Err(DecodeError::Truncated { topic }),
        Err(Unchecked::Negative { what, declared }) => {
            return Err(DecodeError::NegativeLength {
                topic,
                what,
                declared,
            });
        }
    }
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

/// Why [`check_lengths`] stopped.
#[derive(Debug, PartialEq, Eq)]
enum Unchecked {
    /// The input ends inside the record, or before the end a length or count declares.
    Truncated,
    /// A negative length or count.
    Negative { what: &'static str, declared: i64 },
    /// Something apache-avro refuses at this very point (a union index out of range, a
    /// varint longer than 10 bytes) or a schema kind this walk does not know; the decoder
    /// takes over from the start and stops there too, having allocated only for what was
    /// checked up to here.
    Defer,
}

/// Walks `bytes` as apache-avro's decoder would, without allocating, and refuses any string
/// or bytes length and any array or map block count that is negative or larger than the
/// bytes left (the latter as [`Unchecked::Truncated`]: the record ends before what it
/// declares).
///
/// apache-avro bounds a length only by its global `max_allocation_bytes` (512 MiB by
/// default): it allocates the buffer for a string before reading it, and reserves a whole
/// array block (`count` times the size of a `Value`) before reading its first item, so a
/// few bytes declaring a block of 2^28 strings would reserve gigabytes and abort the process
/// when the allocation fails. No valid item takes less than one byte (no topic has arrays of
/// nulls or of empty records), so a count above the bytes left is never a valid record.
fn check_lengths(schema: &Schema, bytes: &mut &[u8]) -> Result<(), Unchecked> {
    match schema {
        Schema::Null => Ok(()),
        Schema::Boolean => skip(bytes, 1),
        Schema::Int | Schema::Long | Schema::Enum(_) => read_varint(bytes).map(drop),
        Schema::Float => skip(bytes, 4),
        Schema::Double => skip(bytes, 8),
        Schema::Fixed(fixed) => skip(bytes, fixed.size),
        Schema::String | Schema::Bytes => {
            let declared = read_varint(bytes)?;
            let len = within_input(bytes, "a length", declared)?;
            skip(bytes, len)
        }
        Schema::Array(array) => check_blocks(bytes, |bytes| check_lengths(&array.items, bytes)),
        Schema::Map(map) => check_blocks(bytes, |bytes| {
            check_lengths(&Schema::String, bytes)?;
            check_lengths(&map.types, bytes)
        }),
        Schema::Union(union) => {
            let index = read_varint(bytes)?;
            let variant = usize::try_from(index)
                .ok()
                .and_then(|index| union.variants().get(index))
                .ok_or(Unchecked::Defer)?;
            check_lengths(variant, bytes)
        }
        Schema::Record(record) => record
            .fields
            .iter()
            .try_for_each(|field| check_lengths(&field.schema, bytes)),
        // Named references and logical types: none in the contract's schemas (a test
        // walks them); the decoder checks the rest on its own.
        _ => Err(Unchecked::Defer),
    }
}

/// Array and map blocks: a count, then (when the count is negative) a byte size, then the
/// items; a zero count ends the sequence.
fn check_blocks(
    bytes: &mut &[u8],
    mut check_item: impl FnMut(&mut &[u8]) -> Result<(), Unchecked>,
) -> Result<(), Unchecked> {
    loop {
        let raw = read_varint(bytes)?;
        if raw == 0 {
            return Ok(());
        }
        // A negative count is followed by the block's size in bytes, which is not needed.
        let declared = if raw < 0 {
            read_varint(bytes)?;
            raw.checked_neg().unwrap_or(raw)
        } else {
            raw
        };
        let count = within_input(bytes, "a block count", declared)?;
        for _ in 0..count {
            check_item(bytes)?;
        }
    }
}

/// `declared` as a size, if it is not negative and not larger than the bytes left.
fn within_input(bytes: &[u8], what: &'static str, declared: i64) -> Result<usize, Unchecked> {
    let len = usize::try_from(declared).map_err(|_| Unchecked::Negative { what, declared })?;
    if len > bytes.len() {
        return Err(Unchecked::Truncated);
    }
    Ok(len)
}

fn skip(bytes: &mut &[u8], len: usize) -> Result<(), Unchecked> {
    let rest = bytes.get(len..).ok_or(Unchecked::Truncated)?;
    *bytes = rest;
    Ok(())
}

/// A zigzag varint, read as apache-avro reads it: at most 10 bytes.
fn read_varint(bytes: &mut &[u8]) -> Result<i64, Unchecked> {
    let mut value = 0u64;
    for shift in (0..10).map(|index| index * 7) {
        let (&byte, rest) = bytes.split_first().ok_or(Unchecked::Truncated)?;
        *bytes = rest;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            let magnitude = (value >> 1) as i64;
            return Ok(if value & 1 == 0 {
                magnitude
            } else {
                !magnitude
            });
        }
    }
    Err(Unchecked::Defer)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{InfluencerRegistradoPayload, IntegrationEvent, Payload};

    /// True if [`check_lengths`] knows every kind of node of `schema` (it defers on others).
    fn walkable(schema: &Schema) -> bool {
        match schema {
            Schema::Null
            | Schema::Boolean
            | Schema::Int
            | Schema::Long
            | Schema::Float
            | Schema::Double
            | Schema::String
            | Schema::Bytes
            | Schema::Enum(_)
            | Schema::Fixed(_) => true,
            Schema::Array(array) => walkable(&array.items),
            Schema::Map(map) => walkable(&map.types),
            Schema::Union(union) => union.variants().iter().all(walkable),
            Schema::Record(record) => record.fields.iter().all(|field| walkable(&field.schema)),
            _ => false,
        }
    }

    #[test]
    fn the_length_check_walks_every_topic_schema_to_the_end() {
        for topic in Topic::ALL {
            assert!(walkable(topic.schema()), "{topic}");
        }
        let payload = InfluencerRegistradoPayload {
            id_influencer: Some("inf-1".into()),
            nombre: Some("Ana García".into()),
            categorias: Some(vec!["moda".into(), String::new()]),
            fecha_registro: Some(-1),
            ..Default::default()
        };
        let bytes = payload.encode().unwrap();
        let mut unread = &bytes[..];
        assert_eq!(
            check_lengths(Topic::Influencers.schema(), &mut unread),
            Ok(())
        );
        assert!(unread.is_empty());
        for topic in Topic::ALL {
            let empty = IntegrationEvent::decode(topic, &[0]).unwrap_err();
            assert!(matches!(empty, DecodeError::EmptyRecord { .. }), "{empty}");
        }
    }

    #[test]
    fn lengths_beyond_the_input_are_refused_before_decoding() {
        // data: branch 1; id_influencer: branch 1; a string of 2^28 bytes, 3 given.
        let huge_string = [2, 2, 0x80, 0x80, 0x80, 0x80, 0x02, b'a', b'b', b'c'];
        let mut unread = &huge_string[..];
        assert_eq!(
            check_lengths(Topic::Influencers.schema(), &mut unread),
            Err(Unchecked::Truncated)
        );
        // categorias: branch 1; a block of 2^27 strings (zigzag), then one.
        let huge_block = [2, 0, 0, 0, 2, 0x80, 0x80, 0x80, 0x80, 0x01, 2, b'a', 0, 0];
        assert!(matches!(
            InfluencerRegistradoPayload::decode(&huge_block),
            Err(DecodeError::Truncated { .. })
        ));
        // A negative count (followed by a byte size) of 2^27 strings.
        let negative_block = [
            2, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x01, 2, 2, b'a', 0, 0,
        ];
        assert!(matches!(
            InfluencerRegistradoPayload::decode(&negative_block),
            Err(DecodeError::Truncated { .. })
        ));
        // i64::MIN as a block count (then a byte size) has no positive twin.
        let mut minimum = vec![2, 0, 0, 0, 2];
        minimum.extend([0xff; 9]);
        minimum.extend([0x01, 0x00]);
        assert!(matches!(
            InfluencerRegistradoPayload::decode(&minimum),
            Err(DecodeError::NegativeLength { .. })
        ));
    }

    #[test]
    fn varints_are_read_as_apache_avro_reads_them() {
        for (bytes, value) in [
            (&[0x00][..], 0),
            (&[0x01], -1),
            (&[0x02], 1),
            (&[0xfe, 0xff, 0xff, 0xff, 0x0f], i64::from(i32::MAX)),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                i64::MIN,
            ),
            // Non-canonical padding is accepted, as apache-avro does.
            (&[0x82, 0x80, 0x00], 1),
        ] {
            let mut unread = bytes;
            assert_eq!(read_varint(&mut unread), Ok(value), "{bytes:?}");
            assert!(unread.is_empty());
        }
        assert_eq!(read_varint(&mut &[0x80; 10][..]), Err(Unchecked::Defer));
        assert_eq!(read_varint(&mut &[0x80][..]), Err(Unchecked::Truncated));
    }
}
