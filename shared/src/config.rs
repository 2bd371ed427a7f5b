//! The one configuration reader of the functions, the bridge and the gateway: environment
//! variables only, read once at start.
//!
//! Each binary describes its variables as a serde-derived struct of raw values and reads
//! it with [`read`] (`envy`); the parts several binaries share ([`DatabaseVars`],
//! [`PulsarVars`], [`FunctionUrls`]) are `#[serde(flatten)]`ed into it. Every raw field is
//! an `Option<String>`: serde's `flatten` hands a flattened struct its values as strings,
//! so `envy` cannot parse numbers or booleans there (softprops/envy#26). The typed values
//! come from a validation step (the helpers here, then each binary's own rules) whose
//! errors name the variable at fault. Raw structs do not derive `Debug`, so the secrets
//! they hold never reach a log; the typed configurations redact theirs.

use std::{collections::BTreeMap, fmt::Display, str::FromStr, time::Duration};

use reqwest::Url;
use serde::{Deserialize, de::DeserializeOwned};
use sqlx::postgres::PgConnectOptions;

use crate::{
    bus::{DEFAULT_NAMESPACE, parse_namespace},
    store::DatabaseSettings,
};

/// A variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The variable (or, for a structured one, `VARIABLE[i].field`).
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// The process environment. Variables whose name or value is not Unicode are none of ours
/// and are left out (rather than stopping the process, as `std::env::vars` would).
pub fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}

/// Reads `T` from `vars` with `envy`. An empty (or blank) value counts as unset; a
/// variable set twice takes its last value; only upper-case names are read (`envy` matches
/// names case-insensitively, and the variables are upper case).
pub fn read<T: DeserializeOwned>(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let vars: BTreeMap<String, String> = vars
        .into_iter()
        .filter(|(name, value)| !value.trim().is_empty() && !name.chars().any(char::is_lowercase))
        .collect();
    envy::from_iter(vars).map_err(|error| match error {
        envy::Error::MissingValue(field) => {
            ConfigError::new(field.to_uppercase(), "is required but not set")
        }
        envy::Error::Custom(message) => ConfigError::new("environment", message),
    })
}

/// The value of a variable that must be set.
pub fn required<'a>(name: &str, raw: &'a Option<String>) -> Result<&'a str, ConfigError> {
    raw.as_deref()
        .ok_or_else(|| ConfigError::new(name, "is required but not set"))
}

/// The value of `name` parsed as a `T`, or `default` when unset.
pub fn parse_or<T>(name: &str, raw: &Option<String>, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|error| ConfigError::new(name, format!("cannot read {raw:?}: {error}"))),
    }
}

/// A duration in milliseconds, more than 0, or `default_ms` when unset.
pub fn millis_or(
    name: &str,
    raw: &Option<String>,
    default_ms: u64,
) -> Result<Duration, ConfigError> {
    let millis: u64 = parse_or(name, raw, default_ms)?;
    if millis == 0 {
        return Err(ConfigError::new(name, "must be more than 0 milliseconds"));
    }
    Ok(Duration::from_millis(millis))
}

/// A secret (a token): trimmed, since a stray newline from a secret store would otherwise
/// be sent along.
pub fn secret(raw: &Option<String>) -> Option<String> {
    raw.as_deref().map(|token| token.trim().to_owned())
}

/// `DATABASE_*`: how a function reaches PostgreSQL.
#[derive(Deserialize)]
pub struct DatabaseVars {
    database_url: Option<String>,
    database_max_connections: Option<String>,
    database_acquire_timeout_ms: Option<String>,
    database_statement_timeout_ms: Option<String>,
}

impl DatabaseVars {
    pub fn settings(&self) -> Result<DatabaseSettings, ConfigError> {
        let url = required("DATABASE_URL", &self.database_url)?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must be a postgres:// or postgresql:// URL",
            ));
        }
        let connect = PgConnectOptions::from_str(url).map_err(|error| {
            ConfigError::new("DATABASE_URL", format!("not a PostgreSQL URL ({error})"))
        })?;
        let mut database = DatabaseSettings::new(connect);
        database.max_connections = parse_or(
            "DATABASE_MAX_CONNECTIONS",
            &self.database_max_connections,
            10,
        )?;
        database.acquire_timeout = millis_or(
            "DATABASE_ACQUIRE_TIMEOUT_MS",
            &self.database_acquire_timeout_ms,
            3_000,
        )?;
        database.statement_timeout = millis_or(
            "DATABASE_STATEMENT_TIMEOUT_MS",
            &self.database_statement_timeout_ms,
            5_000,
        )?;
        Ok(database)
    }
}

/// Where a function publishes when `PULSAR_URL` and `PULSAR_ADDRESS` are unset.
pub const LOCAL_PULSAR_URL: &str = "pulsar://localhost:6650";
const DEFAULT_PULSAR_PORT: u16 = 6650;

/// `PULSAR_*`: the broker, its token and the namespace of the topics.
#[derive(Deserialize)]
pub struct PulsarVars {
    pulsar_url: Option<String>,
    pulsar_address: Option<String>,
    pulsar_token: Option<String>,
    pulsar_namespace: Option<String>,
}

impl PulsarVars {
    /// `PULSAR_URL`, else `PULSAR_ADDRESS` (a host, `host:port` or a URL, as the existing
    /// tools use), else `when_unset` (the functions publish to a local broker; the bridge,
    /// which has nothing to do without one, passes `None` and stops).
    pub fn url(&self, when_unset: Option<&str>) -> Result<String, ConfigError> {
        let (name, url) = match (&self.pulsar_url, &self.pulsar_address) {
            (Some(url), _) => ("PULSAR_URL", url.trim().to_owned()),
            (None, Some(address)) => {
                let address = address.trim();
                let url = if address.contains("://") {
                    address.to_owned()
                } else if address.contains(':') {
                    format!("pulsar://{address}")
                } else {
                    format!("pulsar://{address}:{DEFAULT_PULSAR_PORT}")
                };
                ("PULSAR_ADDRESS", url)
            }
            (None, None) => {
                return when_unset.map(str::to_owned).ok_or_else(|| {
                    ConfigError::new(
                        "PULSAR_URL",
                        "not set (e.g. pulsar://127.0.0.1:6650; PULSAR_ADDRESS=<host> is accepted too)",
                    )
                });
            }
        };
        let parsed = Url::parse(&url)
            .map_err(|error| ConfigError::new(name, format!("{url:?} is not a URL: {error}")))?;
        if !matches!(parsed.scheme(), "pulsar" | "pulsar+ssl") || parsed.host_str().is_none() {
            return Err(ConfigError::new(
                name,
                format!("{url:?} is not a pulsar:// or pulsar+ssl:// URL with a host"),
            ));
        }
        Ok(url)
    }

    /// `PULSAR_TOKEN`, trimmed.
    pub fn token(&self) -> Option<String> {
        secret(&self.pulsar_token)
    }

    /// `PULSAR_NAMESPACE` (`tenant/namespace`), else the contract's.
    pub fn namespace(&self) -> Result<String, ConfigError> {
        match &self.pulsar_namespace {
            Some(raw) => parse_namespace(raw)
                .map_err(|problem| ConfigError::new("PULSAR_NAMESPACE", problem)),
            None => Ok(DEFAULT_NAMESPACE.to_owned()),
        }
    }
}

/// The functions' base URLs, by the variables the bridge and the gateway both route with.
#[derive(Deserialize)]
pub struct FunctionUrls {
    register_influencer_url: Option<String>,
    create_campaign_url: Option<String>,
    send_contract_url: Option<String>,
    generate_report_url: Option<String>,
    compensate_report_url: Option<String>,
}

impl FunctionUrls {
    /// The value of `variable`, one of `REGISTER_INFLUENCER_URL`, `CREATE_CAMPAIGN_URL`,
    /// `SEND_CONTRACT_URL`, `GENERATE_REPORT_URL`, `COMPENSATE_REPORT_URL`.
    pub fn get(&self, variable: &str) -> Option<&str> {
        match variable {
            "REGISTER_INFLUENCER_URL" => self.register_influencer_url.as_deref(),
            "CREATE_CAMPAIGN_URL" => self.create_campaign_url.as_deref(),
            "SEND_CONTRACT_URL" => self.send_contract_url.as_deref(),
            "GENERATE_REPORT_URL" => self.generate_report_url.as_deref(),
            "COMPENSATE_REPORT_URL" => self.compensate_report_url.as_deref(),
            other => unreachable!("{other} is not a function URL variable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[derive(Deserialize)]
    struct Sample {
        port: Option<String>,
        #[serde(flatten)]
        pulsar: PulsarVars,
        #[serde(flatten)]
        urls: FunctionUrls,
    }

    #[test]
    fn flattened_parts_read_their_variables_and_blank_values_are_unset() {
        let sample: Sample = read(vars(&[
            ("PORT", " 81 "),
            ("PULSAR_ADDRESS", "broker"),
            ("PULSAR_TOKEN", " t0k\n"),
            ("SEND_CONTRACT_URL", "http://s:1"),
            ("GENERATE_REPORT_URL", "  "),
            ("UNRELATED", "x"),
        ]))
        .unwrap();
        assert_eq!(parse_or::<u16>("PORT", &sample.port, 80), Ok(81));
        assert_eq!(sample.pulsar.url(None).unwrap(), "pulsar://broker:6650");
        assert_eq!(sample.pulsar.token().as_deref(), Some("t0k"));
        assert_eq!(sample.urls.get("SEND_CONTRACT_URL"), Some("http://s:1"));
        assert_eq!(sample.urls.get("GENERATE_REPORT_URL"), None);
    }

    #[test]
    fn names_are_upper_case_and_the_last_value_wins() {
        let sample: Sample = read(vars(&[("port", "1"), ("PORT", "2"), ("PORT", "3")])).unwrap();
        assert_eq!(sample.port.as_deref(), Some("3"));
    }

    #[test]
    fn one_pulsar_url_parser_with_the_callers_fallback() {
        let none: Sample = read(vars(&[])).unwrap();
        assert_eq!(
            none.pulsar.url(Some(LOCAL_PULSAR_URL)).unwrap(),
            LOCAL_PULSAR_URL
        );
        assert_eq!(none.pulsar.url(None).unwrap_err().variable, "PULSAR_URL");
        for (name, value, expected) in [
            (
                "PULSAR_URL",
                " pulsar+ssl://b:6651 ",
                Ok("pulsar+ssl://b:6651"),
            ),
            ("PULSAR_ADDRESS", "b:7000", Ok("pulsar://b:7000")),
            ("PULSAR_ADDRESS", "pulsar://b:1", Ok("pulsar://b:1")),
            ("PULSAR_URL", "http://b:6650", Err("PULSAR_URL")),
            ("PULSAR_ADDRESS", "http://b", Err("PULSAR_ADDRESS")),
        ] {
            let sample: Sample = read(vars(&[(name, value)])).unwrap();
            let got = sample
                .pulsar
                .url(Some(LOCAL_PULSAR_URL))
                .map_err(|error| error.variable);
            let expected = expected.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(got, expected, "{name}={value}");
        }
    }
}
