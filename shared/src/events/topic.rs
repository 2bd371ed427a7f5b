//! The topic catalogue: every topic of the wire contract with its Avro schema.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use apache_avro::Schema;

/// Tenant and namespace every topic of the contract lives in.
pub const TOPIC_PREFIX: &str = "persistent://public/default/";

/// One topic of the wire contract. Each topic carries exactly one record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `eventos-crear-influencer`: the `EventoCrearInfluencer` command from external tools.
    CrearInfluencer,
    /// `eventos-influencers`: `EventoInfluencerRegistrado`.
    Influencers,
    /// `eventos-campanas`: `EventoCampanaCreada`.
    Campanas,
    /// `eventos-contratos`: `EventoContratoCreado`.
    Contratos,
    /// `eventos-contratos-error`: `EventoContratoError`, the failed saga step.
    ContratosError,
    /// `eventos-reportes`: `EventoReporte`, defined by this project.
    Reportes,
}

/// Why a topic name was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a topic of the wire contract")]
pub struct UnknownTopic(pub String);

/// Static facts about a topic, kept in one table so the names cannot drift apart.
struct TopicInfo {
    name: &'static str,
    full_name: &'static str,
    record_name: &'static str,
    schema_json: &'static str,
}

macro_rules! topic_info {
    ($name:literal, $record:literal) => {
        TopicInfo {
            name: $name,
            full_name: concat!("persistent://public/default/", $name),
            record_name: $record,
            schema_json: include_str!(concat!("avro/", $name, ".avsc")),
        }
    };
}

const CREAR_INFLUENCER: TopicInfo =
    topic_info!("eventos-crear-influencer", "EventoCrearInfluencer");
const INFLUENCERS: TopicInfo = topic_info!("eventos-influencers", "EventoInfluencerRegistrado");
const CAMPANAS: TopicInfo = topic_info!("eventos-campanas", "EventoCampanaCreada");
const CONTRATOS: TopicInfo = topic_info!("eventos-contratos", "EventoContratoCreado");
const CONTRATOS_ERROR: TopicInfo = topic_info!("eventos-contratos-error", "EventoContratoError");
const REPORTES: TopicInfo = topic_info!("eventos-reportes", "EventoReporte");

/// Parsed once per process: parsing costs far more than encoding a record.
static SCHEMAS: LazyLock<[Schema; 6]> = LazyLock::new(|| Topic::ALL.map(parse_embedded_schema));

/// The text the official Python client registers, see [`Topic::registry_schema_json`].
static REGISTRY_SCHEMAS: LazyLock<[String; 6]> =
    LazyLock::new(|| Topic::ALL.map(|topic| python_client_json(topic.schema_json())));

fn parse_embedded_schema(topic: Topic) -> Schema {
    // The files are compiled in and parsed by a unit test, so failing here is a build defect.
    Schema::parse_str(topic.schema_json())
        .unwrap_or_else(|err| panic!("embedded Avro schema of {topic} does not parse: {err}"))
}

/// The embedded files are Python's `json.dumps(schema, indent=2)`; the Python client registers
/// `json.dumps(schema, indent=True)`, i.e. one space per level. Halving the leading spaces turns
/// one into the other (no string in these schemas starts a line).
fn python_client_json(pretty: &str) -> String {
    pretty
        .trim_end()
        .lines()
        .map(|line| {
            let content = line.trim_start_matches(' ');
            let depth = (line.len() - content.len()) / 2;
            format!("{:depth$}{content}", "")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Topic {
    /// Every topic, in the order of the contract's table.
    pub const ALL: [Topic; 6] = [
        Topic::CrearInfluencer,
        Topic::Influencers,
        Topic::Campanas,
        Topic::Contratos,
        Topic::ContratosError,
        Topic::Reportes,
    ];

    const fn info(self) -> &'static TopicInfo {
        match self {
            Topic::CrearInfluencer => &CREAR_INFLUENCER,
            Topic::Influencers => &INFLUENCERS,
            Topic::Campanas => &CAMPANAS,
            Topic::Contratos => &CONTRATOS,
            Topic::ContratosError => &CONTRATOS_ERROR,
            Topic::Reportes => &REPORTES,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    /// Short name, e.g. `eventos-campanas`.
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// Full name, e.g. `persistent://public/default/eventos-campanas`.
    pub const fn full_name(self) -> &'static str {
        self.info().full_name
    }

    /// Name of the Avro record the topic carries, e.g. `EventoCampanaCreada`.
    pub const fn record_name(self) -> &'static str {
        self.info().record_name
    }

    /// The Avro schema as shipped in the contract (`avro/<topic>.avsc`).
    pub const fn schema_json(self) -> &'static str {
        self.info().schema_json
    }

    /// The schema text byte-for-byte as the official Python client registers it.
    ///
    /// The broker recognises an already registered schema by a hash of its bytes, so producing
    /// with this text reuses the existing producers' schema version instead of adding a new one.
    pub fn registry_schema_json(self) -> &'static str {
        &REGISTRY_SCHEMAS[self.index()]
    }

    /// The parsed schema, shared by every encode and decode.
    pub fn schema(self) -> &'static Schema {
        &SCHEMAS[self.index()]
    }

    /// Looks a topic up by short name (`eventos-campanas`) or full name in any namespace
    /// (`persistent://public/default/eventos-campanas`, `persistent://acme/staging/...`:
    /// a deployment may live in its own namespace, `PULSAR_NAMESPACE`).
    pub fn from_name(name: &str) -> Option<Topic> {
        let short = match name.strip_prefix("persistent://") {
            Some(path) => match path.split('/').collect::<Vec<_>>().as_slice() {
                [_tenant, _namespace, short] => *short,
                _ => return None,
            },
            None if name.contains("://") => return None,
            None => name,
        };
        Topic::ALL.into_iter().find(|topic| topic.name() == short)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Topic {
    type Err = UnknownTopic;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Topic::from_name(name).ok_or_else(|| UnknownTopic(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_name_accepts_short_and_full_names() {
        for topic in Topic::ALL {
            assert_eq!(Topic::from_name(topic.name()), Some(topic));
            assert_eq!(Topic::from_name(topic.full_name()), Some(topic));
            assert_eq!(topic.full_name(), format!("{TOPIC_PREFIX}{}", topic.name()));
            let elsewhere = format!("persistent://acme/staging-1/{}", topic.name());
            assert_eq!(Topic::from_name(&elsewhere), Some(topic));
        }
        assert_eq!(
            Topic::from_name("persistent://public/default/eventos-reportes"),
            Some(Topic::Reportes)
        );
        assert_eq!(
            Topic::from_name("eventos-contratos-error"),
            Some(Topic::ContratosError)
        );
    }

    #[test]
    fn from_name_rejects_other_names() {
        for name in [
            "",
            "eventos",
            "EVENTOS-CAMPANAS",
            "persistent://public/eventos-campanas",
            "non-persistent://public/default/eventos-campanas",
            "persistent://public/default/",
            "eventos-campanas-partition-0",
        ] {
            assert_eq!(Topic::from_name(name), None, "{name}");
        }
        assert_eq!(
            "nope".parse::<Topic>(),
            Err(UnknownTopic("nope".to_owned()))
        );
    }

    #[test]
    fn display_is_the_short_name() {
        assert_eq!(Topic::Campanas.to_string(), "eventos-campanas");
    }

    #[test]
    fn every_schema_parses_as_the_topic_record() {
        for topic in Topic::ALL {
            let Schema::Record(record) = topic.schema() else {
                panic!("{topic}: schema is not a record");
            };
            assert_eq!(record.name.name, topic.record_name());
            let field_names: Vec<_> = record.fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(field_names, ["data"], "{topic}");
        }
    }

    #[test]
    fn schema_text_is_the_shipped_file() {
        let files = [
            (
                Topic::CrearInfluencer,
                include_str!("avro/eventos-crear-influencer.avsc"),
            ),
            (
                Topic::Influencers,
                include_str!("avro/eventos-influencers.avsc"),
            ),
            (Topic::Campanas, include_str!("avro/eventos-campanas.avsc")),
            (
                Topic::Contratos,
                include_str!("avro/eventos-contratos.avsc"),
            ),
            (
                Topic::ContratosError,
                include_str!("avro/eventos-contratos-error.avsc"),
            ),
            (Topic::Reportes, include_str!("avro/eventos-reportes.avsc")),
        ];
        for (topic, text) in files {
            assert_eq!(topic.schema_json(), text, "{topic}");
        }
    }

    #[test]
    fn registry_text_is_the_same_schema_indented_like_the_python_client() {
        for topic in Topic::ALL {
            let registry = topic.registry_schema_json();
            let parsed: serde_json::Value = serde_json::from_str(registry).unwrap();
            let shipped: serde_json::Value = serde_json::from_str(topic.schema_json()).unwrap();
            assert_eq!(parsed, shipped, "{topic}");
            assert!(registry.ends_with("\n}"), "{topic}");
        }
        // Checked against `json.dumps(schema, indent=True)` in Python for all six files.
        let expected_start = concat!(
            "{\n",
            " \"type\": \"record\",\n",
            " \"name\": \"EventoInfluencerRegistrado\",\n",
            " \"fields\": [\n",
            "  {\n",
            "   \"name\": \"data\",\n",
            "   \"type\": [\n",
            "    \"null\",\n",
            "    {\n",
            "     \"type\": \"record\",\n",
        );
        let registry = Topic::Influencers.registry_schema_json();
        assert!(registry.starts_with(expected_start), "{registry}");
    }
}
