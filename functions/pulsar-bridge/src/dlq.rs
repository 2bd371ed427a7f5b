//! Dead letters: see, replay or drop them (`pulsar-bridge dlq list|replay|drop`), and the
//! admin-API reads behind the bridge's dead-letter backlog metric.
//!
//! Each route's dead-letter topic `<topic>-<subscription>-DLQ` has the durable subscription
//! `dlq` (the bridge makes sure of it at start), so the broker keeps every dead letter until
//! this command acknowledges it there:
//!
//! - `list` reads the dead letters on `dlq` without acknowledging them and prints, per
//!   route with dead letters, `<topic>/<subscription> <count>`, then one line per message.
//! - `replay` publishes each one to the route's retry topic `<topic>-<subscription>-RETRY`,
//!   which only that route's subscription consumes (so no other subscriber of the topic
//!   sees a copy), with its payload, key, producer properties (event id, correlation id...)
//!   and original identity, and acknowledges the dead letter only once the broker has
//!   confirmed the copy. A second run finds nothing left to replay.
//! - `drop` acknowledges them without sending anything (asks first unless `--yes`).
//!
//! Configuration: `PULSAR_URL` (or `PULSAR_ADDRESS`), `PULSAR_ADMIN_URL` (default
//! `http://<PULSAR_URL host>:8080`), `PULSAR_NAMESPACE` (default `public/default`),
//! `PULSAR_TOKEN` (broker and admin API).

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, Write},
    time::Duration,
};

use alpes_shared::config::PulsarVars;
use chrono::Utc;
use futures::StreamExt;
use pulsar::{
    Authentication, Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor,
    consumer::{InitialPosition, Message},
    producer,
};

use crate::{
    config::{ConfigError, Secret, short_topic},
    delivery::DEAD_LETTER_SUBSCRIPTION,
    message::{format_message_id, property, rfc3339},
};

/// Reading a dead-letter topic stops after this long without a message (when the admin
/// API's backlog count is not reached first).
const READ_IDLE: Duration = Duration::from_secs(3);
/// Bound on reading one dead-letter topic.
const READ_LIMIT: Duration = Duration::from_secs(120);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

type Client = Pulsar<TokioExecutor>;
type ByteConsumer = Consumer<Vec<u8>, TokioExecutor>;

/// The Pulsar admin REST API (for topic lists and backlog counts).
#[derive(Debug, Clone)]
pub struct Admin {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl Admin {
    pub fn new(http: reqwest::Client, base: &str, token: Option<Secret>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// `GET /admin/v2/<path>`: its JSON, `None` on a 404.
    async fn get(&self, path: &str) -> Result<Option<serde_json::Value>, String> {
        let url = format!("{}/admin/v2/{path}", self.base);
        let mut request = self.http.get(&url).timeout(ADMIN_TIMEOUT);
        if let Some(Secret(token)) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("GET {url}: {status} {body}"));
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|error| format!("GET {url}: {error}"))
    }

    /// Messages of the `dlq` subscription of `topic` (a full topic name) not acknowledged
    /// yet; 0 when the topic or the subscription does not exist.
    pub async fn dead_letter_backlog(&self, topic: &str) -> Result<u64, String> {
        let path = topic.replacen("://", "/", 1);
        let stats = self.get(&format!("{path}/stats")).await?;
        Ok(stats.map_or(0, |stats| {
            stats["subscriptions"][DEAD_LETTER_SUBSCRIPTION]["msgBacklog"]
                .as_u64()
                .unwrap_or(0)
        }))
    }

    /// The dead-letter topics (`persistent://<namespace>/...-DLQ`) of `namespace`.
    pub async fn dead_letter_topics(&self, namespace: &str) -> Result<Vec<String>, String> {
        let topics = self
            .get(&format!("persistent/{namespace}"))
            .await?
            .ok_or_else(|| format!("namespace {namespace} not found"))?;
        let mut found: Vec<String> = topics
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|topic| topic.as_str())
            .filter(|topic| topic.ends_with("-DLQ"))
            .map(str::to_owned)
            .collect();
        found.sort();
        found.dedup();
        Ok(found)
    }
}

/// What the command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    List,
    Replay,
    Drop { confirmed: bool },
}

/// A parsed command line (after `dlq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub action: Action,
    /// `<topic>/<subscription>`: only this route.
    pub route: Option<String>,
    /// Only the dead letters with this `event_id` property.
    pub event_id: Option<String>,
}

pub const USAGE: &str = "usage: pulsar-bridge dlq list|replay|drop [--route <topic>/<subscription>] [--event-id <id>] [--yes]
  list    per route with dead letters: '<topic>/<subscription> <count>', then one line per message
  replay  send them back to their route only (its retry topic); ack each after the broker confirmed
  drop    delete them (asks unless --yes)
environment: PULSAR_URL, PULSAR_ADMIN_URL, PULSAR_NAMESPACE, PULSAR_TOKEN";

impl Command {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut args = args.iter().map(String::as_str);
        let action = match args.next() {
            Some("list") => Action::List,
            Some("replay") => Action::Replay,
            Some("drop") => Action::Drop { confirmed: false },
            other => return Err(format!("expected list, replay or drop, got {other:?}")),
        };
        let mut command = Self {
            action,
            route: None,
            event_id: None,
        };
        let non_empty = |value: Option<&str>, flag: &str| {
            value
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        while let Some(arg) = args.next() {
            match arg {
                "--route" => {
                    let route = non_empty(args.next(), "--route")?;
                    if !route.contains('/') {
                        return Err(format!(
                            "--route {route:?}: expected <topic>/<subscription>"
                        ));
                    }
                    command.route = Some(route);
                }
                "--event-id" => command.event_id = Some(non_empty(args.next(), "--event-id")?),
                "--yes" | "-y" => {
                    if let Action::Drop { confirmed } = &mut command.action {
                        *confirmed = true;
                    }
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(command)
    }
}

/// The command's settings, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub pulsar_url: String,
    pub admin_url: String,
    pub namespace: String,
    pub token: Option<Secret>,
}

/// The command's variables as set (see [`alpes_shared::config`]).
#[derive(serde::Deserialize)]
struct SettingsVars {
    pulsar_admin_url: Option<String>,
    #[serde(flatten)]
    pulsar: PulsarVars,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: SettingsVars = alpes_shared::config::read(alpes_shared::config::process_env())?;
        let pulsar_url = vars.pulsar.url(None)?;
        let admin_url = vars
            .pulsar_admin_url
            .or_else(|| crate::config::default_admin_url(&pulsar_url))
            .ok_or_else(|| ConfigError::new("PULSAR_ADMIN_URL", "not set"))?;
        Ok(Self {
            pulsar_url,
            admin_url,
            namespace: vars.pulsar.namespace()?,
            token: vars.pulsar.token().map(Secret),
        })
    }
}

/// `pulsar-bridge dlq ...`: runs the command, printing to stdout; the process exit code.
pub async fn main(args: &[String]) -> i32 {
    let command = match Command::parse(args) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("pulsar-bridge dlq: {error}\n{USAGE}");
            return 2;
        }
    };
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("pulsar-bridge dlq: {error}");
            return 2;
        }
    };
    match run(&command, &settings, &mut std::io::stdout()).await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("pulsar-bridge dlq: {error}");
            1
        }
    }
}

/// A dead-letter topic's route: `<short topic>/<subscription>` from the dead letters'
/// properties, else the topic's name.
fn route_name(topic: &str, letters: &[Message<Vec<u8>>]) -> String {
    letters
        .iter()
        .find_map(|letter| {
            let properties = properties(letter);
            let origin = properties.get(property::ORIGIN_TOPIC)?;
            let subscription = properties.get(property::SUBSCRIPTION)?;
            Some(format!("{}/{subscription}", short_topic(origin)))
        })
        .unwrap_or_else(|| {
            let short = short_topic(topic);
            short.strip_suffix("-DLQ").unwrap_or(short).to_owned()
        })
}

fn properties(message: &Message<Vec<u8>>) -> HashMap<String, String> {
    message
        .metadata()
        .properties
        .iter()
        .map(|pair| (pair.key.clone(), pair.value.clone()))
        .collect()
}

/// Runs `command`, writing its report to `out`.
pub async fn run(
    command: &Command,
    settings: &Settings,
    out: &mut impl Write,
) -> Result<(), String> {
    let http = reqwest::Client::new();
    let admin = Admin::new(http, &settings.admin_url, settings.token.clone());
    let mut topics = admin.dead_letter_topics(&settings.namespace).await?;
    if let Some(route) = &command.route {
        let (topic, subscription) = route
            .rsplit_once('/')
            .ok_or_else(|| format!("route {route:?}: expected <topic>/<subscription>"))?;
        let wanted = format!(
            "persistent://{}/{}-{subscription}-DLQ",
            settings.namespace,
            short_topic(topic)
        );
        topics.retain(|topic| *topic == wanted);
    }
    let pulsar = connect(settings).await?;
    let mut total = 0usize;
    for topic in topics {
        let expected = admin.dead_letter_backlog(&topic).await?;
        if expected == 0 {
            continue;
        }
        let (mut consumer, letters) = read_all(&pulsar, &topic, expected).await?;
        let chosen: Vec<&Message<Vec<u8>>> = letters
            .iter()
            .filter(|letter| {
                command.event_id.as_ref().is_none_or(|wanted| {
                    properties(letter)
                        .get("event_id")
                        .is_some_and(|id| id == wanted)
                })
            })
            .collect();
        if chosen.is_empty() {
            let _ = consumer.close().await;
            continue;
        }
        let route = route_name(&topic, &letters);
        let done = match command.action {
            Action::List => {
                write_listing(out, &route, &chosen).map_err(|error| error.to_string())?;
                chosen.len()
            }
            Action::Replay => replay(&pulsar, &mut consumer, &topic, &route, &chosen, out).await?,
            Action::Drop { confirmed } => {
                if !confirmed && !confirm(&route, chosen.len())? {
                    writeln!(out, "{route}: kept").map_err(|error| error.to_string())?;
                    let _ = consumer.close().await;
                    continue;
                }
                for letter in &chosen {
                    consumer
                        .ack(letter)
                        .await
                        .map_err(|error| format!("acknowledging on {topic}: {error}"))?;
                }
                flush(&mut consumer).await?;
                writeln!(out, "{route}: dropped {}", chosen.len())
                    .map_err(|error| error.to_string())?;
                chosen.len()
            }
        };
        total += done;
        let _ = consumer.close().await;
    }
    let summary = match command.action {
        Action::List if total == 0 => "no dead letters".to_owned(),
        Action::List => format!("{total} dead letter(s)"),
        Action::Replay => format!("replayed {total}"),
        Action::Drop { .. } => format!("dropped {total}"),
    };
    writeln!(out, "{summary}").map_err(|error| error.to_string())?;
    Ok(())
}

async fn connect(settings: &Settings) -> Result<Client, String> {
    let mut builder = Pulsar::builder(&settings.pulsar_url, TokioExecutor);
    if let Some(Secret(token)) = &settings.token {
        builder = builder.with_auth(Authentication {
            name: "token".into(),
            data: token.clone().into_bytes(),
        });
    }
    builder
        .build()
        .await
        .map_err(|error| format!("cannot connect to {}: {error}", settings.pulsar_url))
}

/// Reads the unacknowledged dead letters of `topic` on `dlq` (without acknowledging them):
/// until `expected` are in, or nothing came for [`READ_IDLE`].
async fn read_all(
    pulsar: &Client,
    topic: &str,
    expected: u64,
) -> Result<(ByteConsumer, Vec<Message<Vec<u8>>>), String> {
    let name = uuid::Uuid::new_v4().simple().to_string();
    let queue = u32::try_from(expected.clamp(1, 1000)).unwrap_or(1000);
    let mut consumer: ByteConsumer = pulsar
        .consumer()
        .with_topic(topic)
        .with_subscription(DEAD_LETTER_SUBSCRIPTION)
        .with_subscription_type(SubType::Shared)
        .with_consumer_name(format!("pulsar-bridge-dlq-{}", &name[..12]))
        .with_options(
            ConsumerOptions::default()
                .with_initial_position(InitialPosition::Earliest)
                .with_receiver_queue_size(queue),
        )
        .build()
        .await
        .map_err(|error| format!("cannot subscribe to {topic}: {error}"))?;
    let mut letters = Vec::new();
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + READ_LIMIT;
    while (letters.len() as u64) < expected && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(READ_IDLE, consumer.next()).await {
            Ok(Some(Ok(message))) => {
                if seen.insert(format_message_id(message.message_id())) {
                    letters.push(message);
                }
            }
            Ok(Some(Err(error))) => return Err(format!("reading {topic}: {error}")),
            Ok(None) | Err(_) => break,
        }
    }
    Ok((consumer, letters))
}

fn write_listing(
    out: &mut impl Write,
    route: &str,
    letters: &[&Message<Vec<u8>>],
) -> std::io::Result<()> {
    writeln!(out, "{route} {}", letters.len())?;
    for letter in letters {
        let properties = properties(letter);
        let get = |name: &str| {
            properties
                .get(name)
                .filter(|value| !value.is_empty())
                .map_or("-", String::as_str)
        };
        let last_failure = properties
            .get(property::LAST_FAILURE)
            .or_else(|| properties.get(property::DEAD_LETTERED_AT))
            .map_or("-", String::as_str);
        let first_failure = properties
            .get(property::FIRST_FAILURE)
            .map_or(last_failure, String::as_str);
        writeln!(
            out,
            "  event_type={} event_id={} correlation_id={} first_failure={first_failure} last_failure={last_failure} attempts={} last_error={:?}",
            get("event_type"),
            get("event_id"),
            get("correlation_id"),
            get(property::ATTEMPTS),
            get(property::LAST_ERROR),
        )?;
    }
    Ok(())
}

/// The copy a replay sends to the route's retry topic: the dead letter's payload, key,
/// event time, producer properties and original identity; no attempt count, so the route
/// starts it over at attempt 1, at once.
pub fn replay_copy(letter: &Message<Vec<u8>>) -> producer::Message {
    let metadata = letter.metadata();
    let history = [
        property::ATTEMPTS,
        property::LAST_ERROR,
        property::NOT_BEFORE,
        property::SUBSCRIPTION,
        property::DEAD_LETTERED_AT,
        property::LEDGER_STATE,
        property::FIRST_FAILURE,
        property::LAST_FAILURE,
        property::REPLAYED_AT,
    ];
    let mut properties: HashMap<String, String> = properties(letter)
        .into_iter()
        .filter(|(name, _)| !history.contains(&name.as_str()))
        .collect();
    properties.insert(property::REPLAYED_AT.into(), rfc3339(Utc::now()));
    producer::Message {
        payload: letter.payload.data.clone(),
        properties,
        partition_key: metadata.partition_key.clone(),
        partition_key_b64_encoded: metadata.partition_key_b64_encoded,
        ordering_key: metadata.ordering_key.clone(),
        event_time: metadata.event_time,
        ..Default::default()
    }
}

async fn replay(
    pulsar: &Client,
    consumer: &mut ByteConsumer,
    topic: &str,
    route: &str,
    letters: &[&Message<Vec<u8>>],
    out: &mut impl Write,
) -> Result<usize, String> {
    let retry_topic = format!("{}-RETRY", topic.strip_suffix("-DLQ").unwrap_or(topic));
    let mut producer = pulsar
        .producer()
        .with_topic(&retry_topic)
        .build()
        .await
        .map_err(|error| format!("cannot publish to {retry_topic}: {error}"))?;
    let mut replayed = 0;
    for letter in letters {
        let receipt = async { producer.send_non_blocking(replay_copy(letter)).await?.await };
        match tokio::time::timeout(RECEIPT_TIMEOUT, receipt).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                let _ = flush(consumer).await;
                return Err(format!(
                    "{route}: publishing to {retry_topic} failed after {replayed} replayed: {error}"
                ));
            }
            Err(_) => {
                let _ = flush(consumer).await;
                return Err(format!(
                    "{route}: no receipt from the broker within {RECEIPT_TIMEOUT:?} after {replayed} replayed"
                ));
            }
        }
        // Only now that the broker holds the copy.
        consumer
            .ack(letter)
            .await
            .map_err(|error| format!("acknowledging on {topic}: {error}"))?;
        replayed += 1;
    }
    flush(consumer).await?;
    let _ = producer.close().await;
    writeln!(out, "{route}: replayed {replayed}").map_err(|error| error.to_string())?;
    Ok(replayed)
}

/// Makes sure the acknowledgements reached the broker: it answers requests in order, so an
/// answered stats request is proof.
async fn flush(consumer: &mut ByteConsumer) -> Result<(), String> {
    match tokio::time::timeout(ADMIN_TIMEOUT, consumer.get_stats()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("confirming the acknowledgements: {error}")),
        Err(_) => Err("confirming the acknowledgements timed out".into()),
    }
}

fn confirm(route: &str, count: usize) -> Result<bool, String> {
    eprint!("drop {count} dead letter(s) of {route} for good? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| error.to_string())?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_the_command_line() {
        assert_eq!(
            Command::parse(&args("list")).unwrap(),
            Command {
                action: Action::List,
                route: None,
                event_id: None
            }
        );
        assert_eq!(
            Command::parse(&args(
                "replay --route eventos-influencers/create-campaign --event-id e-1"
            ))
            .unwrap(),
            Command {
                action: Action::Replay,
                route: Some("eventos-influencers/create-campaign".into()),
                event_id: Some("e-1".into())
            }
        );
        assert_eq!(
            Command::parse(&args("drop --yes")).unwrap().action,
            Action::Drop { confirmed: true }
        );
        assert!(Command::parse(&args("purge")).is_err());
        assert!(Command::parse(&args("list --route nosubscription")).is_err());
        assert!(Command::parse(&args("list --event-id")).is_err());
        assert!(Command::parse(&args("list --what")).is_err());
    }
}
