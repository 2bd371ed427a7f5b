//! A function's configuration: environment variables only, read once at start into typed
//! values through the shared reader ([`crate::config`]). A missing or malformed variable
//! stops the process with a message naming it.

use std::time::Duration;

use serde::Deserialize;

pub use crate::config::ConfigError;
use crate::{
    bus::{PulsarSettings, relay::RelaySettings},
    config::{DatabaseVars, LOCAL_PULSAR_URL, PulsarVars, millis_or, parse_or, required},
    store::DatabaseSettings,
};

/// Which broker carries the integration events.
#[derive(Debug, Clone)]
pub enum BusSettings {
    Pulsar(PulsarSettings),
    /// Google Pub/Sub; `emulator` is `host:port` of a local emulator (PUBSUB_EMULATOR_HOST).
    PubSub {
        project: String,
        emulator: Option<String>,
        timeout: Duration,
    },
}

/// How the event endpoint authenticates pushes (SPEC section 6). Its `Debug` leaves the
/// static token out.
#[derive(Clone, PartialEq, Eq)]
pub enum PushAuthSettings {
    /// A Google-signed OIDC ID token for `audience`, from one of `service_accounts`
    /// (any service account when empty), checked against the keys at `certs_url`.
    Oidc {
        audience: String,
        service_accounts: Vec<String>,
        certs_url: String,
    },
    /// `Authorization: Bearer <token>` with this exact token (local runs).
    Static { token: String },
    /// No check at all: only for the Pub/Sub emulator, which pushes without a token.
    Disabled,
}

impl std::fmt::Debug for PushAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oidc {
                audience,
                service_accounts,
                certs_url,
            } => f
                .debug_struct("Oidc")
                .field("audience", audience)
                .field("service_accounts", service_accounts)
                .field("certs_url", certs_url)
                .finish(),
            Self::Static { .. } => f
                .debug_struct("Static")
                .field("token", &"<redacted>")
                .finish(),
            Self::Disabled => f.write_str("Disabled"),
        }
    }
}

/// Here rather than beside the type (`bus/pulsar.rs`): the secrets' redaction in one place.
impl std::fmt::Debug for PulsarSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulsarSettings")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("operation_timeout", &self.operation_timeout)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub port: u16,
    pub database: DatabaseSettings,
    pub bus: BusSettings,
    pub push_auth: PushAuthSettings,
    /// Bound on one HTTP request, below Cloud Run's own timeout.
    pub request_timeout: Duration,
    /// How often the outbox relay sweeps for unpublished events.
    pub relay_interval: Duration,
    /// Inline publish budget, leases, circuit breaker and retention of the outbox.
    pub relay: RelaySettings,
}

/// Google's OIDC signing keys.
pub const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// A function's variables as set (see [`crate::config`]).
#[derive(Deserialize)]
struct FunctionVars {
    port: Option<String>,
    request_timeout_ms: Option<String>,
    relay_interval_ms: Option<String>,
    event_bus: Option<String>,
    publish_timeout_ms: Option<String>,
    gcp_project: Option<String>,
    pubsub_emulator_host: Option<String>,
    #[serde(flatten)]
    database: DatabaseVars,
    #[serde(flatten)]
    pulsar: PulsarVars,
    #[serde(flatten)]
    push: PushVars,
    #[serde(flatten)]
    relay: RelayVars,
}

/// `PUSH_*`: how the event endpoint checks pushes.
#[derive(Deserialize)]
struct PushVars {
    push_auth: Option<String>,
    push_audience: Option<String>,
    push_service_accounts: Option<String>,
    push_certs_url: Option<String>,
    push_token: Option<String>,
    push_auth_allow_none: Option<String>,
}

/// The outbox relay's tuning.
#[derive(Deserialize)]
struct RelayVars {
    publish_inline_budget_ms: Option<String>,
    outbox_lease_ms: Option<String>,
    publish_breaker_threshold: Option<String>,
    publish_breaker_cooldown_ms: Option<String>,
    outbox_retention_hours: Option<String>,
    inbox_retention_hours: Option<String>,
}

impl FunctionConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(crate::config::process_env())
    }

    /// Reads the given variables (tests pass their own).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: FunctionVars = crate::config::read(vars)?;
        let database = vars.database.settings()?;
        let bus_timeout = millis_or("PUBLISH_TIMEOUT_MS", &vars.publish_timeout_ms, 5_000)?;
        let bus = match vars.event_bus.as_deref().unwrap_or("pulsar") {
            "pulsar" => BusSettings::Pulsar(PulsarSettings {
                url: vars.pulsar.url(Some(LOCAL_PULSAR_URL))?,
                token: vars.pulsar.token(),
                operation_timeout: bus_timeout,
                namespace: vars.pulsar.namespace()?,
            }),
            "pubsub" => BusSettings::PubSub {
                project: required("GCP_PROJECT", &vars.gcp_project)?.to_owned(),
                emulator: vars.pubsub_emulator_host.clone(),
                timeout: bus_timeout,
            },
            other => {
                return Err(ConfigError::new(
                    "EVENT_BUS",
                    format!("must be pulsar or pubsub, got {other:?}"),
                ));
            }
        };
        let push_auth = vars.push.settings()?;
        Ok(Self {
            port: parse_or("PORT", &vars.port, 8080)?,
            database,
            bus,
            push_auth,
            request_timeout: millis_or("REQUEST_TIMEOUT_MS", &vars.request_timeout_ms, 30_000)?,
            relay_interval: millis_or("RELAY_INTERVAL_MS", &vars.relay_interval_ms, 2_000)?,
            relay: vars.relay.settings(bus_timeout)?,
        })
    }
}

impl PushVars {
    fn settings(&self) -> Result<PushAuthSettings, ConfigError> {
        Ok(match self.push_auth.as_deref().unwrap_or("oidc") {
            "oidc" => PushAuthSettings::Oidc {
                audience: required("PUSH_AUDIENCE", &self.push_audience)?.to_owned(),
                // Fail closed: without a list, any Google-signed token for the audience
                // (any service account of any project can mint one) would pass.
                service_accounts: {
                    let accounts: Vec<String> = self
                        .push_service_accounts
                        .as_deref()
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .filter(|account| !account.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if accounts.is_empty() {
                        return Err(ConfigError::new(
                            "PUSH_SERVICE_ACCOUNTS",
                            "is required with PUSH_AUTH=oidc: the service accounts (comma \
                             separated) whose ID tokens may push events",
                        ));
                    }
                    accounts
                },
                certs_url: self
                    .push_certs_url
                    .as_deref()
                    .unwrap_or(GOOGLE_CERTS_URL)
                    .to_owned(),
            },
            "static" => PushAuthSettings::Static {
                token: required("PUSH_TOKEN", &self.push_token)?.trim().to_owned(),
            },
            "none" if self.push_auth_allow_none.as_deref().map(str::trim) == Some("true") => {
                PushAuthSettings::Disabled
            }
            "none" => {
                return Err(ConfigError::new(
                    "PUSH_AUTH_ALLOW_NONE",
                    "must be true to run with PUSH_AUTH=none (no authentication of pushes: \
                     only for the Pub/Sub emulator)",
                ));
            }
            other => {
                return Err(ConfigError::new(
                    "PUSH_AUTH",
                    format!("must be oidc, static or none, got {other:?}"),
                ));
            }
        })
    }
}

impl RelayVars {
    /// The outbox settings. The lease must outlast the longest publish (taking the
    /// producer's lock, creating it, handing over, the receipt: each bounded by
    /// `PUBLISH_TIMEOUT_MS`), or a slow publish and the relay would both send a row.
    fn settings(&self, publish_timeout: Duration) -> Result<RelaySettings, ConfigError> {
        let defaults = RelaySettings::default();
        let hours = |name: &str, raw: &Option<String>, default: Duration| {
            let hours: u64 = parse_or(name, raw, default.as_secs() / 3600)?;
            if hours == 0 {
                return Err(ConfigError::new(name, "must be at least 1 hour"));
            }
            Ok(Duration::from_secs(hours * 3600))
        };
        let settings = RelaySettings {
            inline_budget: millis_or(
                "PUBLISH_INLINE_BUDGET_MS",
                &self.publish_inline_budget_ms,
                millis(defaults.inline_budget),
            )?,
            lease: millis_or(
                "OUTBOX_LEASE_MS",
                &self.outbox_lease_ms,
                millis(defaults.lease),
            )?,
            breaker_threshold: parse_or(
                "PUBLISH_BREAKER_THRESHOLD",
                &self.publish_breaker_threshold,
                defaults.breaker_threshold,
            )?,
            breaker_cooldown: millis_or(
                "PUBLISH_BREAKER_COOLDOWN_MS",
                &self.publish_breaker_cooldown_ms,
                millis(defaults.breaker_cooldown),
            )?,
            outbox_retention: hours(
                "OUTBOX_RETENTION_HOURS",
                &self.outbox_retention_hours,
                defaults.outbox_retention,
            )?,
            inbox_retention: hours(
                "INBOX_RETENTION_HOURS",
                &self.inbox_retention_hours,
                defaults.inbox_retention,
            )?,
            ..defaults
        };
        if settings.lease <= publish_timeout * 3 {
            return Err(ConfigError::new(
                "OUTBOX_LEASE_MS",
                format!(
                    "must be more than 3 x PUBLISH_TIMEOUT_MS ({} ms)",
                    millis(publish_timeout) * 3
                ),
            ));
        }
        if settings.breaker_threshold == 0 {
            return Err(ConfigError::new(
                "PUBLISH_BREAKER_THRESHOLD",
                "must be at least 1",
            ));
        }
        Ok(settings)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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

    const DB: (&str, &str) = (
        "DATABASE_URL",
        "postgres://alpes:alpes@127.0.0.1:5432/alpes",
    );
    const ALLOW_NONE: (&str, &str) = ("PUSH_AUTH_ALLOW_NONE", "true");

    #[test]
    fn push_auth_fails_closed() {
        let error = FunctionConfig::from_vars(vars(&[
            DB,
            ("PUSH_AUTH", "oidc"),
            ("PUSH_AUDIENCE", "https://f.a.run.app"),
            ("PUSH_SERVICE_ACCOUNTS", " , "),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "PUSH_SERVICE_ACCOUNTS", "{error}");
        assert!(error.to_string().contains("PUSH_AUTH=oidc"), "{error}");
        for allow in [None, Some("false"), Some("yes")] {
            let mut pairs = vars(&[DB, ("PUSH_AUTH", "none")]);
            pairs.extend(allow.map(|value| ("PUSH_AUTH_ALLOW_NONE".to_owned(), value.to_owned())));
            let error = FunctionConfig::from_vars(pairs).unwrap_err();
            assert_eq!(error.variable, "PUSH_AUTH_ALLOW_NONE", "{allow:?}");
        }
        let open = FunctionConfig::from_vars(vars(&[DB, ("PUSH_AUTH", "none"), ALLOW_NONE]));
        assert_eq!(open.unwrap().push_auth, PushAuthSettings::Disabled);
    }

    #[test]
    fn secrets_are_trimmed_and_never_in_debug_output() {
        let config = FunctionConfig::from_vars(vars(&[
            (
                "DATABASE_URL",
                "postgres://alpes:db-pa55word@127.0.0.1:5432/alpes",
            ),
            ("PUSH_AUTH", "static"),
            ("PUSH_TOKEN", " push-s3cret\n"),
            ("PULSAR_TOKEN", "\tpulsar-s3cret "),
        ]))
        .unwrap();
        assert_eq!(
            config.push_auth,
            PushAuthSettings::Static {
                token: "push-s3cret".to_owned()
            }
        );
        let BusSettings::Pulsar(pulsar) = &config.bus else {
            panic!("pulsar is the default bus")
        };
        assert_eq!(pulsar.token.as_deref(), Some("pulsar-s3cret"));
        let debug = format!("{config:?} {config:#?}");
        for secret in ["db-pa55word", "push-s3cret", "pulsar-s3cret"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn the_local_minimum_is_a_database_and_a_push_token() {
        let config = FunctionConfig::from_vars(vars(&[
            DB,
            ("PUSH_AUTH", "static"),
            ("PUSH_TOKEN", "s3cret"),
        ]))
        .unwrap();
        assert_eq!(config.port, 8080);
        assert!(
            matches!(&config.bus, BusSettings::Pulsar(p) if p.url == "pulsar://localhost:6650")
        );
        assert_eq!(
            config.push_auth,
            PushAuthSettings::Static {
                token: "s3cret".to_owned()
            }
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = FunctionConfig::from_vars(vars(&[])).unwrap_err();
        assert_eq!(error.variable, "DATABASE_URL");
        let error = FunctionConfig::from_vars(vars(&[DB])).unwrap_err();
        assert_eq!(
            error.variable, "PUSH_AUDIENCE",
            "OIDC is the default push auth"
        );
        let error = FunctionConfig::from_vars(vars(&[
            DB,
            ("EVENT_BUS", "pubsub"),
            ("PUSH_AUTH", "none"),
            ALLOW_NONE,
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "GCP_PROJECT");
    }

    #[test]
    fn a_malformed_variable_is_named_with_its_value() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("DATABASE_URL", "mysql://nope"),
            ("EVENT_BUS", "kafka"),
            ("PUSH_AUTH", "maybe"),
            ("PULSAR_URL", "http://broker:6650"),
            ("REQUEST_TIMEOUT_MS", "0"),
        ] {
            let mut pairs = vars(&[DB, ("PUSH_AUTH", "none"), ALLOW_NONE]);
            pairs.push((name.to_owned(), value.to_owned()));
            let error = FunctionConfig::from_vars(pairs).unwrap_err();
            assert_eq!(error.variable, name, "{error}");
            assert!(error.to_string().starts_with(name));
        }
    }

    #[test]
    fn pulsar_address_is_accepted_like_the_existing_tools() {
        let config = FunctionConfig::from_vars(vars(&[
            DB,
            ("PUSH_AUTH", "none"),
            ALLOW_NONE,
            ("PULSAR_ADDRESS", "broker"),
        ]))
        .unwrap();
        assert!(matches!(&config.bus, BusSettings::Pulsar(p) if p.url == "pulsar://broker:6650"));
    }

    #[test]
    fn oidc_takes_an_audience_and_allowed_accounts() {
        let config = FunctionConfig::from_vars(vars(&[
            DB,
            ("PUSH_AUDIENCE", "https://generate-report-xyz.a.run.app"),
            (
                "PUSH_SERVICE_ACCOUNTS",
                "bridge@p.iam.gserviceaccount.com, other@p.iam.gserviceaccount.com",
            ),
        ]))
        .unwrap();
        assert_eq!(
            config.push_auth,
            PushAuthSettings::Oidc {
                audience: "https://generate-report-xyz.a.run.app".to_owned(),
                service_accounts: vec![
                    "bridge@p.iam.gserviceaccount.com".to_owned(),
                    "other@p.iam.gserviceaccount.com".to_owned()
                ],
                certs_url: GOOGLE_CERTS_URL.to_owned(),
            }
        );
    }
}
