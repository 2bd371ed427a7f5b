//! The bridge's configuration: environment variables only, read once at start through the
//! shared reader ([`alpes_shared::config`]) into these types. Every error names the
//! variable (or the `BRIDGE_ROUTES` entry and field) at fault.
//!
//! The variables are listed in `docs/BRIDGE.md` and in the crate documentation.

use std::{collections::HashSet, fmt, time::Duration};

pub use alpes_shared::config::ConfigError;
use alpes_shared::{
    bus::{DEFAULT_NAMESPACE, topic_in},
    config::{FunctionUrls, PulsarVars, parse_or, secret},
    events::Topic,
};
use reqwest::Url;
use serde::Deserialize;

/// Path of a function's event endpoint, appended to the `*_URL` base URLs of the default table.
pub const EVENTS_PATH: &str = "/events";

/// The route table of SPEC section 5: (topic, subscription = consuming function, variable
/// holding the function's base URL).
pub const DEFAULT_ROUTES: [(Topic, &str, &str); 6] = [
    (
        Topic::CrearInfluencer,
        "register-influencer",
        "REGISTER_INFLUENCER_URL",
    ),
    (Topic::Influencers, "create-campaign", "CREATE_CAMPAIGN_URL"),
    (Topic::Campanas, "generate-report", "GENERATE_REPORT_URL"),
    (Topic::Campanas, "send-contract", "SEND_CONTRACT_URL"),
    (Topic::Contratos, "generate-report", "GENERATE_REPORT_URL"),
    (
        Topic::ContratosError,
        "compensate-report",
        "COMPENSATE_REPORT_URL",
    ),
];

/// Host of the GCP metadata server, unless `GCE_METADATA_HOST` says otherwise.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";

const DEFAULT_PORT: u16 = 8080;
const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 6_000;
/// `BRIDGE_RETRY_BUDGET` unless set: 24 hours.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(24 * 3600);
/// Port of the Pulsar admin API when `PULSAR_ADMIN_URL` is derived from `PULSAR_URL`.
const DEFAULT_ADMIN_PORT: u16 = 8080;

/// Everything the bridge needs, read once at start.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// `PORT`: where `/health`, `/ready` and `/metrics` are served (0 picks a free port).
    pub port: u16,
    /// `PULSAR_URL`, or `pulsar://$PULSAR_ADDRESS:6650`.
    pub pulsar_url: String,
    /// `PULSAR_TOKEN`: a JWT for the broker's token authentication.
    pub pulsar_token: Option<Secret>,
    /// `PUSH_AUTH` (+ `PUSH_TOKEN`, `GCE_METADATA_HOST`).
    pub push_auth: PushAuth,
    pub routes: Vec<RouteConfig>,
    /// Default-table routes left out because their function's URL variable is unset.
    pub skipped_routes: Vec<SkippedRoute>,
    /// `BRIDGE_SHUTDOWN_GRACE_MS`: how long in-flight pushes may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// `PULSAR_ADMIN_URL` (default: `http://<PULSAR_URL host>:8080`): the admin REST API,
    /// polled for the dead-letter backlog metric only (best effort).
    pub admin_url: Option<String>,
}

/// A secret kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How each push is authenticated (`Authorization: Bearer <token>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAuth {
    /// `PUSH_AUTH=none`: no `Authorization` header (the Pub/Sub emulator's behaviour).
    None,
    /// `PUSH_AUTH=static`: the same configured token (`PUSH_TOKEN`) on every push.
    Static(Secret),
    /// `PUSH_AUTH=metadata`: an OIDC ID token for the route's audience from the GCP metadata
    /// server at `host` (`GCE_METADATA_HOST`, default `metadata.google.internal`).
    Metadata { host: String },
}

/// A default-table route that is not configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRoute {
    pub topic: String,
    pub subscription: String,
    pub missing_variable: &'static str,
}

/// Exponential backoff between failed attempts, with jitter: the ceiling is `initial`
/// (`BRIDGE_MIN_BACKOFF_MS`) doubling, at most `max` (`BRIDGE_MAX_BACKOFF_MS`); the wait is
/// drawn uniformly between half the ceiling (never below `initial`) and the ceiling, so it
/// always lies within `[initial, max]`.
///
/// Written here rather than taken from a backoff crate (`backon`, `exponential-backoff`):
/// the bridge needs the wait after the n-th failure of a message whose count travels in its
/// properties across redeliveries, in exact `Duration` arithmetic and within these bounds;
/// those crates are stateful iterators with their own jitter ranges (docs/DECISIONS.md,
/// "Maintained crates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the wait after the `failed_attempt`-th failed attempt (1-based),
    /// without jitter: `initial x 2^(n-1)`, at most `max`.
    pub fn delay(&self, failed_attempt: u32) -> Duration {
        let doublings = failed_attempt.saturating_sub(1).min(32);
        self.initial
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max)
    }

    /// The bounds `[low, high]` of the jittered wait after the `failed_attempt`-th failure.
    pub fn bounds(&self, failed_attempt: u32) -> (Duration, Duration) {
        let high = self.delay(failed_attempt).max(self.initial.min(self.max));
        let low = (high / 2).max(self.initial).min(high);
        (low, high)
    }

    /// The jittered wait: `bounds` scaled by `unit`, a number in `[0, 1]`.
    pub fn jittered_with(&self, failed_attempt: u32, unit: f64) -> Duration {
        let (low, high) = self.bounds(failed_attempt);
        let span = (high - low).as_secs_f64() * unit.clamp(0.0, 1.0);
        (low + Duration::from_secs_f64(span)).min(high)
    }

    /// The jittered wait after the `failed_attempt`-th failure, with a random draw.
    pub fn jittered(&self, failed_attempt: u32) -> Duration {
        self.jittered_with(failed_attempt, random_unit())
    }
}

/// A uniform number in `[0, 1)`: `fastrand`'s generator (per thread, seeded from the
/// operating system), enough to spread retries apart; nothing secret depends on it.
pub fn random_unit() -> f64 {
    fastrand::f64()
}

/// Parses a retry budget: plain seconds, or a number with a unit suffix `s`, `m`, `h`
/// (`24h`, `90m`, `3600s`, `3600`).
pub fn parse_budget(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (number, unit) = match raw.char_indices().last()? {
        (at, 's') => (&raw[..at], 1),
        (at, 'm') => (&raw[..at], 60),
        (at, 'h') => (&raw[..at], 3600),
        _ => (raw, 1),
    };
    let value: u64 = number.trim().parse().ok()?;
    let seconds = value.checked_mul(unit)?;
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// One Pulsar subscription pushed to one HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Full topic name, e.g. `persistent://public/default/eventos-campanas`.
    pub topic: String,
    /// Subscription name, e.g. `generate-report`.
    pub subscription: String,
    /// The push endpoint, e.g. `https://generate-report-xyz.a.run.app/events`.
    pub url: Url,
    /// Audience of the OIDC token (default: the origin of `url`).
    pub audience: String,
    /// Attempts before the message is dead-lettered (>= 1).
    pub max_attempts: u32,
    /// Time since the first failed attempt after which the message is dead-lettered
    /// (whichever of this and `max_attempts` comes first).
    pub retry_budget: Duration,
    pub backoff: Backoff,
    /// Most pushes in flight at once.
    pub concurrency: usize,
    /// Messages the Pulsar consumer buffers ahead (flow permits and receive queue).
    pub receive_queue: u32,
    /// Key_Shared subscription and one in-flight message per key.
    pub ordered_by_key: bool,
    /// Per-push timeout; keep it below the function's own request timeout.
    pub timeout: Duration,
}

impl RouteConfig {
    /// `<short topic>/<subscription>`, the route's name in logs and metrics.
    pub fn name(&self) -> String {
        format!("{}/{}", short_topic(&self.topic), self.subscription)
    }

    /// `<topic>-<subscription>-RETRY`: failed messages wait here for their next attempt.
    pub fn retry_topic(&self) -> String {
        format!("{}-{}-RETRY", self.topic, self.subscription)
    }

    /// `<topic>-<subscription>-DLQ`: messages that failed every attempt.
    pub fn dead_letter_topic(&self) -> String {
        format!("{}-{}-DLQ", self.topic, self.subscription)
    }

    /// `<topic>-<subscription>-ATTEMPTS`: durable attempt counts of ordered routes.
    pub fn attempts_topic(&self) -> String {
        format!("{}-{}-ATTEMPTS", self.topic, self.subscription)
    }
}

/// The last segment of a topic name: `eventos-campanas` for
/// `persistent://public/default/eventos-campanas`.
pub fn short_topic(topic: &str) -> &str {
    topic.rsplit('/').next().unwrap_or(topic)
}

/// `persistent://<namespace>/<name>` for a short name; a full name is kept.
pub fn full_topic(name: &str, namespace: &str) -> String {
    if name.contains("://") {
        name.to_owned()
    } else {
        topic_in(namespace, name)
    }
}

/// Settings every route takes unless its `BRIDGE_ROUTES` entry says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteDefaults {
    pub max_attempts: u32,
    pub retry_budget: Duration,
    pub backoff: Backoff,
    pub concurrency: usize,
    pub receive_queue: u32,
    pub ordered_by_key: bool,
    pub timeout: Duration,
}

impl Default for RouteDefaults {
    fn default() -> Self {
        Self {
            // Pub/Sub's maximum; with the 60 s cap about 1.5 h of attempts, and the retry
            // budget (24 h) rarely matters.
            max_attempts: 100,
            retry_budget: DEFAULT_RETRY_BUDGET,
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            concurrency: 16,
            // Flow permits come back one round trip (and a Nagle delay: the client does not
            // set TCP_NODELAY) after half the queue is received, so a small queue caps
            // throughput: 64 gave about 1.8k messages/s on loopback, 500 about 15k.
            receive_queue: 500,
            ordered_by_key: false,
            timeout: Duration::from_secs(20),
        }
    }
}

impl RouteDefaults {
    /// A route with these settings.
    pub fn route(&self, topic: &str, subscription: &str, url: Url) -> RouteConfig {
        RouteConfig {
            topic: full_topic(topic, DEFAULT_NAMESPACE),
            subscription: subscription.to_owned(),
            audience: url.origin().ascii_serialization(),
            url,
            max_attempts: self.max_attempts,
            retry_budget: self.retry_budget,
            backoff: self.backoff,
            concurrency: self.concurrency,
            receive_queue: self.receive_queue,
            ordered_by_key: self.ordered_by_key,
            timeout: self.timeout,
        }
    }
}

/// One entry of `BRIDGE_ROUTES` (JSON array) or of the `BRIDGE_ROUTES_FILE` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    topic: String,
    subscription: String,
    url: String,
    audience: Option<String>,
    max_attempts: Option<u32>,
    retry_budget: Option<String>,
    backoff_initial_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    concurrency: Option<usize>,
    receive_queue: Option<u32>,
    ordered_by_key: Option<bool>,
    timeout_ms: Option<u64>,
}

/// The bridge's variables as set (see [`alpes_shared::config`]).
#[derive(Deserialize)]
struct BridgeVars {
    port: Option<String>,
    push_auth: Option<String>,
    push_token: Option<String>,
    gce_metadata_host: Option<String>,
    pulsar_admin_url: Option<String>,
    bridge_routes: Option<String>,
    bridge_routes_file: Option<String>,
    bridge_shutdown_grace_ms: Option<String>,
    #[serde(flatten)]
    pulsar: PulsarVars,
    #[serde(flatten)]
    function_urls: FunctionUrls,
    #[serde(flatten)]
    route_defaults: RouteDefaultVars,
}

/// `BRIDGE_*`: the settings of every route unless its `BRIDGE_ROUTES` entry says otherwise.
#[derive(Deserialize)]
struct RouteDefaultVars {
    bridge_max_attempts: Option<String>,
    bridge_retry_budget: Option<String>,
    bridge_min_backoff_ms: Option<String>,
    bridge_max_backoff_ms: Option<String>,
    /// The older names of `BRIDGE_MIN_BACKOFF_MS` and `BRIDGE_MAX_BACKOFF_MS`.
    bridge_backoff_initial_ms: Option<String>,
    bridge_backoff_max_ms: Option<String>,
    bridge_concurrency: Option<String>,
    bridge_receive_queue: Option<String>,
    bridge_ordered_by_key: Option<String>,
    bridge_push_timeout_ms: Option<String>,
}

impl BridgeConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(alpes_shared::config::process_env())
    }

    /// Reads the given variables (tests pass their own). An empty value counts as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BridgeVars = alpes_shared::config::read(vars)?;
        let port = parse_or("PORT", &vars.port, DEFAULT_PORT)?;
        let pulsar_url = vars.pulsar.url(None)?;
        let pulsar_token = vars.pulsar.token().map(Secret);
        let push_auth = push_auth(&vars)?;
        let defaults = vars.route_defaults.defaults()?;
        let namespace = vars.pulsar.namespace()?;
        let shutdown_grace = Duration::from_millis(parse_or(
            "BRIDGE_SHUTDOWN_GRACE_MS",
            &vars.bridge_shutdown_grace_ms,
            DEFAULT_SHUTDOWN_GRACE_MS,
        )?);

        let (routes, skipped_routes) = match (&vars.bridge_routes, &vars.bridge_routes_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "BRIDGE_ROUTES",
                    "set either BRIDGE_ROUTES or BRIDGE_ROUTES_FILE, not both",
                ));
            }
            (Some(json), None) => (
                parse_routes("BRIDGE_ROUTES", json, &defaults, &namespace)?,
                vec![],
            ),
            (None, Some(path)) => {
                let json = std::fs::read_to_string(path).map_err(|error| {
                    ConfigError::new("BRIDGE_ROUTES_FILE", format!("cannot read {path}: {error}"))
                })?;
                (
                    parse_routes("BRIDGE_ROUTES_FILE", &json, &defaults, &namespace)?,
                    vec![],
                )
            }
            (None, None) => default_routes(&vars.function_urls, &defaults, &namespace)?,
        };
        if routes.is_empty() {
            let variables: Vec<_> = DEFAULT_ROUTES.iter().map(|(_, _, var)| *var).collect();
            return Err(ConfigError::new(
                "BRIDGE_ROUTES",
                format!(
                    "no route is configured: set BRIDGE_ROUTES, BRIDGE_ROUTES_FILE or at least one of {}",
                    dedup(&variables).join(", ")
                ),
            ));
        }
        let admin_url = match &vars.pulsar_admin_url {
            Some(url) => Some(url.trim().trim_end_matches('/').to_owned()),
            None => default_admin_url(&pulsar_url),
        };
        Ok(Self {
            admin_url,
            port,
            pulsar_url,
            pulsar_token,
            push_auth,
            routes,
            skipped_routes,
            shutdown_grace,
        })
    }
}

fn dedup<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    names
        .iter()
        .copied()
        .filter(|name| seen.insert(*name))
        .collect()
}

fn positive<T: PartialOrd + Default + Copy>(
    name: &str,
    value: T,
    what: &str,
) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError::new(name, format!("{what} must be at least 1")))
    }
}

/// `http(s)://<host of the Pulsar URL>:8080`: where the admin API is unless
/// `PULSAR_ADMIN_URL` says otherwise.
pub(crate) fn default_admin_url(pulsar_url: &str) -> Option<String> {
    let url = Url::parse(pulsar_url).ok()?;
    let host = url.host_str()?;
    let scheme = if url.scheme() == "pulsar+ssl" {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}:{DEFAULT_ADMIN_PORT}"))
}

fn push_auth(vars: &BridgeVars) -> Result<PushAuth, ConfigError> {
    let token = secret(&vars.push_token).map(Secret);
    let host = vars
        .gce_metadata_host
        .as_deref()
        .map(|host| host.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_owned());
    let mode = vars
        .push_auth
        .as_deref()
        .map(|mode| mode.trim().to_ascii_lowercase());
    match (mode.as_deref(), token) {
        (None, Some(token)) | (Some("static"), Some(token)) => Ok(PushAuth::Static(token)),
        // `oidc` is what the functions call the same scheme (they verify those tokens).
        (None | Some("metadata" | "oidc"), _) => Ok(PushAuth::Metadata { host }),
        (Some("static"), None) => Err(ConfigError::new(
            "PUSH_TOKEN",
            "PUSH_AUTH=static needs the token in PUSH_TOKEN",
        )),
        (Some("none"), _) => Ok(PushAuth::None),
        (Some(other), _) => Err(ConfigError::new(
            "PUSH_AUTH",
            format!("expected static, metadata (or oidc) or none, got {other:?}"),
        )),
    }
}

impl RouteDefaultVars {
    fn defaults(&self) -> Result<RouteDefaults, ConfigError> {
        let base = RouteDefaults::default();
        let millis = |name: &str, raw: &Option<String>, default: Duration| {
            parse_or(
                name,
                raw,
                u64::try_from(default.as_millis()).unwrap_or(u64::MAX),
            )
            .map(Duration::from_millis)
        };
        let defaults = RouteDefaults {
            max_attempts: positive(
                "BRIDGE_MAX_ATTEMPTS",
                parse_or(
                    "BRIDGE_MAX_ATTEMPTS",
                    &self.bridge_max_attempts,
                    base.max_attempts,
                )?,
                "the number of attempts",
            )?,
            retry_budget: match &self.bridge_retry_budget {
                None => base.retry_budget,
                Some(raw) => parse_budget(raw).ok_or_else(|| {
                    ConfigError::new(
                        "BRIDGE_RETRY_BUDGET",
                        format!("expected seconds or a duration like 24h, 90m, 30s, got {raw:?}"),
                    )
                })?,
            },
            // The older names (`BRIDGE_BACKOFF_INITIAL_MS`, `BRIDGE_BACKOFF_MAX_MS`) still work.
            backoff: Backoff {
                initial: match &self.bridge_min_backoff_ms {
                    Some(_) => millis(
                        "BRIDGE_MIN_BACKOFF_MS",
                        &self.bridge_min_backoff_ms,
                        base.backoff.initial,
                    )?,
                    None => millis(
                        "BRIDGE_BACKOFF_INITIAL_MS",
                        &self.bridge_backoff_initial_ms,
                        base.backoff.initial,
                    )?,
                },
                max: match &self.bridge_max_backoff_ms {
                    Some(_) => millis(
                        "BRIDGE_MAX_BACKOFF_MS",
                        &self.bridge_max_backoff_ms,
                        base.backoff.max,
                    )?,
                    None => millis(
                        "BRIDGE_BACKOFF_MAX_MS",
                        &self.bridge_backoff_max_ms,
                        base.backoff.max,
                    )?,
                },
            },
            concurrency: positive(
                "BRIDGE_CONCURRENCY",
                parse_or(
                    "BRIDGE_CONCURRENCY",
                    &self.bridge_concurrency,
                    base.concurrency,
                )?,
                "the concurrency",
            )?,
            receive_queue: positive(
                "BRIDGE_RECEIVE_QUEUE",
                parse_or(
                    "BRIDGE_RECEIVE_QUEUE",
                    &self.bridge_receive_queue,
                    base.receive_queue,
                )?,
                "the receive queue",
            )?,
            ordered_by_key: parse_bool(
                "BRIDGE_ORDERED_BY_KEY",
                &self.bridge_ordered_by_key,
                base.ordered_by_key,
            )?,
            timeout: millis(
                "BRIDGE_PUSH_TIMEOUT_MS",
                &self.bridge_push_timeout_ms,
                base.timeout,
            )?,
        };
        if defaults.backoff.initial > defaults.backoff.max {
            return Err(ConfigError::new(
                "BRIDGE_MIN_BACKOFF_MS",
                "must not exceed BRIDGE_MAX_BACKOFF_MS",
            ));
        }
        if defaults.timeout.is_zero() {
            return Err(ConfigError::new(
                "BRIDGE_PUSH_TIMEOUT_MS",
                "must be more than 0",
            ));
        }
        Ok(defaults)
    }
}

fn parse_bool(name: &str, raw: &Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw
        .as_deref()
        .map(|raw| raw.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError::new(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

fn parse_url(name: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim())
        .map_err(|error| ConfigError::new(name, format!("{raw:?} is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            name,
            format!("{raw:?} is not an http(s) URL with a host"),
        ));
    }
    Ok(url)
}

fn default_routes(
    urls: &FunctionUrls,
    defaults: &RouteDefaults,
    namespace: &str,
) -> Result<(Vec<RouteConfig>, Vec<SkippedRoute>), ConfigError> {
    let mut routes = Vec::new();
    let mut skipped = Vec::new();
    for (topic, subscription, variable) in DEFAULT_ROUTES {
        match urls.get(variable) {
            Some(base) => {
                let endpoint = format!("{}{EVENTS_PATH}", base.trim().trim_end_matches('/'));
                let url = parse_url(variable, &endpoint)?;
                routes.push(defaults.route(&topic_in(namespace, topic.name()), subscription, url));
            }
            None => skipped.push(SkippedRoute {
                topic: topic_in(namespace, topic.name()),
                subscription: subscription.to_owned(),
                missing_variable: variable,
            }),
        }
    }
    Ok((routes, skipped))
}

fn parse_routes(
    variable: &str,
    json: &str,
    defaults: &RouteDefaults,
    namespace: &str,
) -> Result<Vec<RouteConfig>, ConfigError> {
    let entries: Vec<RouteEntry> = serde_json::from_str(json).map_err(|error| {
        ConfigError::new(
            variable,
            format!("expected a JSON array of routes ({error})"),
        )
    })?;
    let mut seen = HashSet::new();
    let mut routes = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let field = |name: &str| format!("{variable}[{index}].{name}");
        let topic = entry.topic.trim();
        if topic.is_empty() || topic.chars().any(char::is_whitespace) {
            return Err(ConfigError::new(field("topic"), "must be a topic name"));
        }
        let subscription = entry.subscription.trim();
        if subscription.is_empty() || subscription.chars().any(char::is_whitespace) {
            return Err(ConfigError::new(
                field("subscription"),
                "must be a subscription name",
            ));
        }
        let url = parse_url(&field("url"), &entry.url)?;
        let mut route = defaults.route(&full_topic(topic, namespace), subscription, url);
        if let Some(audience) = entry.audience {
            route.audience = audience;
        }
        if let Some(value) = entry.max_attempts {
            route.max_attempts = positive(&field("max_attempts"), value, "max_attempts")?;
        }
        if let Some(raw) = entry.retry_budget {
            route.retry_budget = parse_budget(&raw).ok_or_else(|| {
                ConfigError::new(
                    field("retry_budget"),
                    format!("expected seconds or a duration like 24h, 90m, 30s, got {raw:?}"),
                )
            })?;
        }
        if let Some(ms) = entry.backoff_initial_ms {
            route.backoff.initial = Duration::from_millis(ms);
        }
        if let Some(ms) = entry.backoff_max_ms {
            route.backoff.max = Duration::from_millis(ms);
        }
        if route.backoff.initial > route.backoff.max {
            return Err(ConfigError::new(
                field("backoff_initial_ms"),
                "must not exceed backoff_max_ms",
            ));
        }
        if let Some(value) = entry.concurrency {
            route.concurrency = positive(&field("concurrency"), value, "concurrency")?;
        }
        if let Some(value) = entry.receive_queue {
            route.receive_queue = positive(&field("receive_queue"), value, "receive_queue")?;
        }
        if let Some(value) = entry.ordered_by_key {
            route.ordered_by_key = value;
        }
        if let Some(ms) = entry.timeout_ms {
            if ms == 0 {
                return Err(ConfigError::new(field("timeout_ms"), "must be more than 0"));
            }
            route.timeout = Duration::from_millis(ms);
        }
        if !seen.insert((route.topic.clone(), route.subscription.clone())) {
            return Err(ConfigError::new(
                field("subscription"),
                format!(
                    "{} already has a route with subscription {}",
                    route.topic, route.subscription
                ),
            ));
        }
        routes.push(route);
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<BridgeConfig, ConfigError> {
        BridgeConfig::from_vars(
            vars.iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        )
    }

    const PULSAR: (&str, &str) = ("PULSAR_URL", "pulsar://127.0.0.1:6650");

    #[test]
    fn default_table_with_every_url() {
        let config = config(&[
            PULSAR,
            ("REGISTER_INFLUENCER_URL", "http://register:8080"),
            ("CREATE_CAMPAIGN_URL", "http://campaign:8080/"),
            ("SEND_CONTRACT_URL", "https://send-contract-xyz.a.run.app"),
            ("GENERATE_REPORT_URL", "http://report:8080"),
            ("COMPENSATE_REPORT_URL", "http://compensate:8080"),
        ])
        .unwrap();
        let table: Vec<_> = config
            .routes
            .iter()
            .map(|route| (route.name(), route.url.as_str().to_owned()))
            .collect();
        assert_eq!(
            table,
            [
                (
                    "eventos-crear-influencer/register-influencer",
                    "http://register:8080/events"
                ),
                (
                    "eventos-influencers/create-campaign",
                    "http://campaign:8080/events"
                ),
                (
                    "eventos-campanas/generate-report",
                    "http://report:8080/events"
                ),
                (
                    "eventos-campanas/send-contract",
                    "https://send-contract-xyz.a.run.app/events"
                ),
                (
                    "eventos-contratos/generate-report",
                    "http://report:8080/events"
                ),
                (
                    "eventos-contratos-error/compensate-report",
                    "http://compensate:8080/events"
                ),
            ]
            .map(|(name, url)| (name.to_owned(), url.to_owned()))
        );
        assert!(config.skipped_routes.is_empty());
        let send_contract = &config.routes[3];
        assert_eq!(
            send_contract.topic,
            "persistent://public/default/eventos-campanas"
        );
        assert_eq!(send_contract.subscription, "send-contract");
        assert_eq!(
            send_contract.audience,
            "https://send-contract-xyz.a.run.app"
        );
        assert_eq!(send_contract.max_attempts, 100);
        assert_eq!(send_contract.retry_budget, Duration::from_secs(24 * 3600));
        assert_eq!(send_contract.backoff.initial, Duration::from_secs(1));
        assert_eq!(send_contract.backoff.max, Duration::from_secs(60));
        assert!(!send_contract.ordered_by_key);
        assert_eq!(
            send_contract.retry_topic(),
            "persistent://public/default/eventos-campanas-send-contract-RETRY"
        );
        assert_eq!(
            send_contract.dead_letter_topic(),
            "persistent://public/default/eventos-campanas-send-contract-DLQ"
        );
        assert_eq!(config.port, 8080);
        assert_eq!(
            config.push_auth,
            PushAuth::Metadata {
                host: "metadata.google.internal".into()
            }
        );
    }

    #[test]
    fn pulsar_namespace_places_every_route_in_it() {
        let namespace = ("PULSAR_NAMESPACE", "acme/staging");
        let defaults =
            config(&[PULSAR, namespace, ("GENERATE_REPORT_URL", "http://r:8080")]).unwrap();
        assert!(
            defaults.routes.iter().all(|route| route
                .topic
                .starts_with("persistent://acme/staging/eventos-")),
            "{:?}",
            defaults.routes
        );
        assert!(
            defaults
                .skipped_routes
                .iter()
                .all(|route| route.topic.starts_with("persistent://acme/staging/"))
        );
        let routes = r#"[
            {"topic": "orders", "subscription": "s", "url": "http://x:1/events"},
            {"topic": "persistent://t/ns/other", "subscription": "s", "url": "http://x:1/events"}
        ]"#;
        let listed = config(&[PULSAR, namespace, ("BRIDGE_ROUTES", routes)]).unwrap();
        assert_eq!(listed.routes[0].topic, "persistent://acme/staging/orders");
        assert_eq!(listed.routes[1].topic, "persistent://t/ns/other");
        let error = config(&[
            PULSAR,
            ("PULSAR_NAMESPACE", "staging"),
            ("BRIDGE_ROUTES", routes),
        ])
        .unwrap_err();
        assert_eq!(error.variable, "PULSAR_NAMESPACE");
    }

    #[test]
    fn routes_without_url_are_skipped_but_one_route_is_required() {
        let config = config(&[PULSAR, ("GENERATE_REPORT_URL", "http://report:8080")]).unwrap();
        assert_eq!(config.routes.len(), 2);
        assert_eq!(config.skipped_routes.len(), 4);
        assert_eq!(
            config.skipped_routes[0].missing_variable,
            "REGISTER_INFLUENCER_URL"
        );
        let error = self::config(&[("PULSAR_URL", "pulsar://h:1")]).unwrap_err();
        assert_eq!(error.variable, "BRIDGE_ROUTES");
        assert!(error.message.contains("GENERATE_REPORT_URL"), "{error}");
    }

    #[test]
    fn route_defaults_come_from_the_environment() {
        let config = config(&[
            PULSAR,
            ("GENERATE_REPORT_URL", "http://report:8080"),
            ("BRIDGE_MAX_ATTEMPTS", "7"),
            ("BRIDGE_BACKOFF_INITIAL_MS", "100"),
            ("BRIDGE_BACKOFF_MAX_MS", "400"),
            ("BRIDGE_CONCURRENCY", "3"),
            ("BRIDGE_RECEIVE_QUEUE", "9"),
            ("BRIDGE_ORDERED_BY_KEY", "true"),
            ("BRIDGE_PUSH_TIMEOUT_MS", "1500"),
            ("BRIDGE_SHUTDOWN_GRACE_MS", "250"),
            ("PORT", "0"),
        ])
        .unwrap();
        let route = &config.routes[0];
        assert_eq!(route.max_attempts, 7);
        assert_eq!(
            route.backoff,
            Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(400)
            }
        );
        assert_eq!(route.concurrency, 3);
        assert_eq!(route.receive_queue, 9);
        assert!(route.ordered_by_key);
        assert_eq!(route.timeout, Duration::from_millis(1500));
        assert_eq!(config.shutdown_grace, Duration::from_millis(250));
        assert_eq!(config.port, 0);
    }

    #[test]
    fn bridge_routes_replace_the_table() {
        let routes = r#"[
            {"topic": "orders", "subscription": "billing", "url": "http://127.0.0.1:9000/events",
             "max_attempts": 2, "backoff_initial_ms": 10, "backoff_max_ms": 20, "concurrency": 4,
             "ordered_by_key": true, "timeout_ms": 300, "audience": "aud", "receive_queue": 5},
            {"topic": "persistent://t/ns/other", "subscription": "s", "url": "https://x.example/hook"}
        ]"#;
        let config = config(&[
            PULSAR,
            ("BRIDGE_ROUTES", routes),
            ("GENERATE_REPORT_URL", "http://ignored"),
        ])
        .unwrap();
        assert_eq!(config.routes.len(), 2);
        let first = &config.routes[0];
        assert_eq!(first.topic, "persistent://public/default/orders");
        assert_eq!(first.max_attempts, 2);
        assert_eq!(first.backoff.initial, Duration::from_millis(10));
        assert_eq!(first.concurrency, 4);
        assert_eq!(first.receive_queue, 5);
        assert!(first.ordered_by_key);
        assert_eq!(first.timeout, Duration::from_millis(300));
        assert_eq!(first.audience, "aud");
        let second = &config.routes[1];
        assert_eq!(second.topic, "persistent://t/ns/other");
        assert_eq!(second.audience, "https://x.example");
        assert_eq!(second.name(), "other/s");
        assert_eq!(second.dead_letter_topic(), "persistent://t/ns/other-s-DLQ");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 10] = [
            (&[("GENERATE_REPORT_URL", "http://r")], "PULSAR_URL"),
            (
                &[PULSAR, ("GENERATE_REPORT_URL", "not a url")],
                "GENERATE_REPORT_URL",
            ),
            (&[PULSAR, ("BRIDGE_ROUTES", "{}")], "BRIDGE_ROUTES"),
            (
                &[
                    PULSAR,
                    (
                        "BRIDGE_ROUTES",
                        r#"[{"topic":"t","subscription":"s","url":"ftp://x"}]"#,
                    ),
                ],
                "BRIDGE_ROUTES[0].url",
            ),
            (
                &[
                    PULSAR,
                    (
                        "BRIDGE_ROUTES",
                        r#"[{"topic":"t","subscription":"s","url":"http://x","max_attempts":0}]"#,
                    ),
                ],
                "BRIDGE_ROUTES[0].max_attempts",
            ),
            (
                &[PULSAR, ("GENERATE_REPORT_URL", "http://r"), ("PORT", "x")],
                "PORT",
            ),
            (
                &[
                    PULSAR,
                    ("GENERATE_REPORT_URL", "http://r"),
                    ("PUSH_AUTH", "static"),
                ],
                "PUSH_TOKEN",
            ),
            (
                &[
                    PULSAR,
                    ("GENERATE_REPORT_URL", "http://r"),
                    ("PUSH_AUTH", "oauth"),
                ],
                "PUSH_AUTH",
            ),
            (
                &[
                    PULSAR,
                    ("GENERATE_REPORT_URL", "http://r"),
                    ("BRIDGE_CONCURRENCY", "0"),
                ],
                "BRIDGE_CONCURRENCY",
            ),
            (
                &[
                    ("PULSAR_URL", "http://x"),
                    ("GENERATE_REPORT_URL", "http://r"),
                ],
                "PULSAR_URL",
            ),
        ];
        for (vars, variable) in cases {
            let error = config(vars).unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}: {error}");
            assert!(error.to_string().starts_with(variable), "{error}");
        }
    }

    #[test]
    fn pulsar_address_is_accepted_and_push_auth_has_defaults() {
        let config = config(&[
            ("PULSAR_ADDRESS", "broker"),
            ("GENERATE_REPORT_URL", "http://r"),
            ("PUSH_TOKEN", "local-secret"),
        ])
        .unwrap();
        assert_eq!(config.pulsar_url, "pulsar://broker:6650");
        assert_eq!(
            config.push_auth,
            PushAuth::Static(Secret("local-secret".into()))
        );
        assert!(!format!("{config:?}").contains("local-secret"));
        let none = self::config(&[
            ("PULSAR_ADDRESS", "broker:7000"),
            ("GENERATE_REPORT_URL", "http://r"),
            ("PUSH_AUTH", "none"),
            ("PUSH_TOKEN", "ignored"),
        ])
        .unwrap();
        assert_eq!(none.pulsar_url, "pulsar://broker:7000");
        assert_eq!(none.push_auth, PushAuth::None);
        let oidc = self::config(&[
            ("PULSAR_URL", "pulsar://broker:6650"),
            ("GENERATE_REPORT_URL", "http://r"),
            ("PUSH_AUTH", "oidc"),
            ("PUSH_TOKEN", "ignored"),
            ("GCE_METADATA_HOST", "127.0.0.1:9999"),
        ])
        .unwrap();
        assert_eq!(
            oidc.push_auth,
            PushAuth::Metadata {
                host: "127.0.0.1:9999".into()
            }
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let delays: Vec<_> = (1..=8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.delay(1000), Duration::from_secs(60));
    }

    #[test]
    fn jittered_backoff_stays_within_its_bounds() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for attempt in 1..=120 {
            let (low, high) = backoff.bounds(attempt);
            assert!(low >= backoff.initial && high <= backoff.max, "{attempt}");
            assert!(low <= high && high == backoff.delay(attempt), "{attempt}");
            assert_eq!(backoff.jittered_with(attempt, 0.0), low);
            assert_eq!(backoff.jittered_with(attempt, 1.0), high);
            for _ in 0..200 {
                let wait = backoff.jittered(attempt);
                assert!(wait >= low && wait <= high, "{attempt}: {wait:?}");
            }
        }
        assert_eq!(
            backoff.bounds(1),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        assert_eq!(
            backoff.bounds(3),
            (Duration::from_secs(2), Duration::from_secs(4))
        );
        assert_eq!(
            backoff.bounds(50),
            (Duration::from_secs(30), Duration::from_secs(60))
        );
        // The draws spread over the range (not all at one end).
        let draws: Vec<Duration> = (0..400).map(|_| backoff.jittered(10)).collect();
        let below = draws
            .iter()
            .filter(|wait| **wait < Duration::from_secs(45))
            .count();
        assert!(
            (100..=300).contains(&below),
            "{below} of 400 below the middle"
        );
        for _ in 0..1000 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit));
        }
        // min = max: no jitter at all.
        let flat = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_millis(500),
        };
        assert_eq!(flat.jittered(7), Duration::from_millis(500));
    }

    #[test]
    fn retry_policy_variables() {
        let config = config(&[
            PULSAR,
            ("CREATE_CAMPAIGN_URL", "http://127.0.0.1:3002"),
            ("BRIDGE_MIN_BACKOFF_MS", "250"),
            ("BRIDGE_MAX_BACKOFF_MS", "9000"),
            ("BRIDGE_RETRY_BUDGET", "90m"),
        ])
        .unwrap();
        let route = &config.routes[0];
        assert_eq!(route.backoff.initial, Duration::from_millis(250));
        assert_eq!(route.backoff.max, Duration::from_secs(9));
        assert_eq!(route.retry_budget, Duration::from_secs(5400));
        assert_eq!(config.admin_url.as_deref(), Some("http://127.0.0.1:8080"));
        for (raw, seconds) in [("24h", 86_400), ("3600", 3600), ("30s", 30), ("2m", 120)] {
            assert_eq!(
                parse_budget(raw),
                Some(Duration::from_secs(seconds)),
                "{raw}"
            );
        }
        for raw in ["", "0", "h", "1d", "-5m", "x"] {
            assert_eq!(parse_budget(raw), None, "{raw}");
        }
        let error = self::config(&[
            ("PULSAR_URL", "pulsar://127.0.0.1:6650"),
            ("CREATE_CAMPAIGN_URL", "http://127.0.0.1:3002"),
            ("BRIDGE_RETRY_BUDGET", "1 day"),
        ])
        .unwrap_err();
        assert_eq!(error.variable, "BRIDGE_RETRY_BUDGET");
    }
}
