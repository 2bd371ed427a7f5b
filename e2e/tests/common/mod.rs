//! End to end: the five functions and the Pulsar bridge as separate processes (their built
//! binaries), against the real PostgreSQL and Pulsar, through the flows of SPEC section 7.
//!
//! One environment per test run, shared by the tests of one test file (the last test to
//! finish tears it down): two fresh databases (`e2e_alpes_<id>`, `e2e_reportes_<id>`), the
//! five functions on free ports, and either the bridge on a Pulsar namespace of the run's
//! own (`public/e2e-<id>`: the functions and the bridge take it from `PULSAR_NAMESPACE`)
//! or push subscriptions in an emulator project of the run's own. Nothing of a run is
//! shared with another run, with `make local` or with the rest of the workspace's tests.
//!
//! Runs still take turns (a PostgreSQL advisory lock, [`RunLock`]): holding it, a run
//! removes what runs killed before their teardown left behind (databases, namespaces),
//! unless processes of theirs are still running, which it then names. Some fault tests
//! stop the shared broker or database and run alone (`#[ignore]`, see `make test`).
//!
//! Every child logs to `target/e2e-logs/<run>/<name>.log`; a failure names that directory.
//! The binaries are taken from the cargo target directory: `cargo build --bins` first
//! (`make test`, i.e. `cargo test --workspace --all-targets`, builds them).

#![allow(dead_code)] // each test binary uses part of the harness

use std::{
    collections::BTreeMap,
    fmt::Display,
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    str::FromStr,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alpes_shared::{
    bus::{Publisher, PulsarBus, PulsarSettings},
    events::{EventMetadata, IntegrationEvent, Topic},
    store::{self, outbox::OutboxMessage},
};
use futures::StreamExt;
use pulsar::{Consumer, ConsumerOptions, Pulsar, TokioExecutor, consumer::InitialPosition};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection, postgres::PgConnectOptions};
use uuid::Uuid;

pub const REGISTER_INFLUENCER: &str = "register-influencer";
pub const CREATE_CAMPAIGN: &str = "create-campaign";
pub const SEND_CONTRACT: &str = "send-contract";
pub const GENERATE_REPORT: &str = "generate-report";
pub const COMPENSATE_REPORT: &str = "compensate-report";
pub const BRIDGE: &str = "pulsar-bridge";

/// The functions, each with the context database it runs against.
pub const FUNCTIONS: [(&str, Database); 5] = [
    (REGISTER_INFLUENCER, Database::Alpes),
    (CREATE_CAMPAIGN, Database::Alpes),
    (SEND_CONTRACT, Database::Alpes),
    (GENERATE_REPORT, Database::Reportes),
    (COMPENSATE_REPORT, Database::Reportes),
];

/// The bridge's default route table (docs/BRIDGE.md): (topic, consuming function).
pub const ROUTES: [(&str, &str); 6] = [
    ("eventos-crear-influencer", REGISTER_INFLUENCER),
    ("eventos-influencers", CREATE_CAMPAIGN),
    ("eventos-campanas", GENERATE_REPORT),
    ("eventos-campanas", SEND_CONTRACT),
    ("eventos-contratos", GENERATE_REPORT),
    ("eventos-contratos-error", COMPENSATE_REPORT),
];

/// How long the processes may take to answer `GET /ready` with 200 (generous: a loaded
/// 2-core machine, other test binaries starting at the same time).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a flow may take to reach the state a test waits for.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(45);
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// Bound on each teardown step (dropping the databases, deleting the namespace).
pub const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(20);

pub const DEFAULT_DATABASE_URL: &str = "postgres://alpes:alpes@127.0.0.1:5432/alpes";
pub const DEFAULT_PULSAR_URL: &str = "pulsar://127.0.0.1:6650";
pub const DEFAULT_PULSAR_ADMIN_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_PUBSUB_HOST: &str = "127.0.0.1:8085";

/// How the events travel between the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Pulsar topics, the bridge pushing to the functions' `/events` (static token).
    Pulsar,
    /// Pub/Sub topics on the emulator, in a project of the run's own, and push
    /// subscriptions the emulator itself delivers to the functions' `/events` (it sends no
    /// token, so the functions run with `PUSH_AUTH=none`). No Pulsar, no bridge.
    PubSub,
}

#[derive(Debug, Clone, Copy)]
pub enum Database {
    Alpes,
    Reportes,
}

// ---------------------------------------------------------------------------------------
// The environment: databases, processes, subscriptions.
// ---------------------------------------------------------------------------------------

/// Everything one test run starts. Holds nothing bound to a tokio runtime (each test has
/// its own), so the tests share it; dropping it kills the children, then drops the
/// databases and the run's namespace or emulator resources (best effort, bounded).
pub struct Env {
    pub topology: Topology,
    pub run: String,
    pub log_dir: PathBuf,
    /// The run's Pulsar namespace, `public/e2e-<id>`.
    pub namespace: String,
    pub push_token: String,
    /// `postgres://user:password@host:port` of `DATABASE_URL`.
    pub server: String,
    /// `?...` of `DATABASE_URL`, if any.
    pub url_query: String,
    /// The database the run connects to for `CREATE DATABASE` / `DROP DATABASE`.
    pub admin_database_url: String,
    pub alpes_database: String,
    pub reportes_database: String,
    /// The databases created so far (dropped at the end).
    pub created_databases: Vec<String>,
    pub pulsar_url: String,
    pub pulsar_admin_url: String,
    /// Whether the run's namespace exists (deleted at the end, with its topics).
    pub namespace_created: bool,
    /// `host:port` of the Pub/Sub emulator.
    pub pubsub_host: String,
    /// The run's own emulator project (Pub/Sub topology).
    pub pubsub_project: String,
    /// The emulator topics and subscriptions created so far, as REST paths
    /// (`projects/<p>/subscriptions/<s>`; deleted at the end).
    pub pubsub_resources: Vec<String>,
    /// Base URL (`http://127.0.0.1:<port>`) of each process.
    pub urls: BTreeMap<&'static str, String>,
    pub children: Mutex<Vec<(&'static str, Child)>>,
    /// Processes of an earlier run that are still running, if any (see [`stale_processes`]).
    pub stale: Option<String>,
    /// Held from the start to the end of the teardown.
    pub lock: Option<RunLock>,
}

/// Bridge variables of this test binary replacing the harness's (e.g. the retry policy a
/// test is about); set before the first [`env`] call.
pub static BRIDGE_SETTINGS: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

static ENV: tokio::sync::Mutex<Weak<Env>> = tokio::sync::Mutex::const_new(Weak::new());

/// The run's environment through Pulsar and the bridge, started by the first test that
/// asks for it.
pub async fn env() -> Arc<Env> {
    env_of(Topology::Pulsar).await
}

/// The run's environment through the Pub/Sub emulator.
pub async fn pubsub_env() -> Arc<Env> {
    env_of(Topology::PubSub).await
}

async fn env_of(topology: Topology) -> Arc<Env> {
    let mut shared = ENV.lock().await;
    if let Some(env) = shared.upgrade() {
        assert_eq!(
            env.topology, topology,
            "one topology per test binary (the environment is shared by its tests)"
        );
        return env;
    }
    let env = Arc::new(Box::pin(Env::start(topology)).await);
    *shared = Arc::downgrade(&env);
    env
}

impl Env {
    pub async fn start(topology: Topology) -> Self {
        let binaries = binaries_dir();
        let target = binaries
            .parent()
            .expect("the profile directory is inside the target directory");
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let id = Uuid::new_v4().simple().to_string();
        let run = format!("{started}-{}", &id[..8]);
        let log_dir = target.join("e2e-logs").join(&run);
        std::fs::create_dir_all(&log_dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", log_dir.display()));

        let database_url = var_or("DATABASE_URL", DEFAULT_DATABASE_URL);
        let (without_query, query) = match database_url.split_once('?') {
            Some((url, query)) => (url.to_owned(), format!("?{query}")),
            None => (database_url.clone(), String::new()),
        };
        let (server, _) = without_query
            .rsplit_once('/')
            .filter(|(server, _)| server.contains("://"))
            .unwrap_or_else(|| panic!("DATABASE_URL {database_url:?} ends with /<database>"));

        let lock = RunLock::acquire(database_url.clone()).await;

        let mut env = Self {
            topology,
            pubsub_host: var_or("PUBSUB_EMULATOR_HOST", DEFAULT_PUBSUB_HOST),
            pubsub_project: format!("alpes-e2e-{}", &id[..12]),
            pubsub_resources: Vec::new(),
            log_dir,
            namespace: format!("public/e2e-{id}"),
            namespace_created: false,
            push_token: Uuid::new_v4().simple().to_string(),
            server: server.to_owned(),
            url_query: query,
            admin_database_url: database_url.clone(),
            alpes_database: format!("e2e_alpes_{id}"),
            reportes_database: format!("e2e_reportes_{id}"),
            created_databases: Vec::new(),
            pulsar_url: var_or("PULSAR_URL", DEFAULT_PULSAR_URL),
            pulsar_admin_url: var_or("PULSAR_ADMIN_URL", DEFAULT_PULSAR_ADMIN_URL)
                .trim_end_matches('/')
                .to_owned(),
            urls: BTreeMap::new(),
            children: Mutex::new(Vec::new()),
            stale: stale_processes(),
            lock: Some(lock),
            run,
        };
        match &env.stale {
            Some(stale) => eprintln!("e2e run {}: WARNING: {stale}", env.run),
            None => {
                if tokio::time::timeout(TEARDOWN_TIMEOUT, env.remove_leftovers())
                    .await
                    .is_err()
                {
                    eprintln!(
                        "e2e run {}: removing earlier runs' leftovers took over {TEARDOWN_TIMEOUT:?}",
                        env.run
                    );
                }
            }
        }
        eprintln!(
            "e2e run {}: binaries from {}, logs in {}",
            env.run,
            binaries.display(),
            env.log_dir.display()
        );
        env.create_databases().await;
        match topology {
            Topology::Pulsar => {
                for (function, database) in FUNCTIONS {
                    env.start_function(&binaries, function, database);
                }
                env.create_subscriptions().await;
                env.start_bridge(&binaries);
                env.wait_ready().await;
            }
            Topology::PubSub => {
                // Topics first: a function publishes as soon as it has something to say.
                env.create_pubsub_topics().await;
                for (function, database) in FUNCTIONS {
                    env.start_function(&binaries, function, database);
                }
                env.wait_ready().await;
                env.create_push_subscriptions().await;
            }
        }
        env
    }

    /// `PUT` on the emulator's REST API (`path` like `projects/p/topics/t`), remembered
    /// for the teardown.
    async fn put_pubsub(&mut self, path: String, body: Value) {
        let url = format!("http://{}/v1/{path}", self.pubsub_host);
        let answer = http().put(&url).json(&body).send().await;
        match answer {
            Ok(response) if response.status().is_success() => {
                self.pubsub_resources.push(path);
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                self.fail(format!("PUT {url} {body}: {status} {text}"))
            }
            Err(error) => self.fail(format!(
                "PUT {url}: {error} (is the Pub/Sub emulator running? `make services`)"
            )),
        }
    }

    async fn create_pubsub_topics(&mut self) {
        let mut topics: Vec<&str> = ROUTES.iter().map(|(topic, _)| *topic).collect();
        topics.push("eventos-reportes");
        topics.dedup();
        for topic in topics {
            let path = format!("projects/{}/topics/{topic}", self.pubsub_project);
            self.put_pubsub(path, json!({})).await;
        }
    }

    /// One push subscription per route of the bridge's table, pushing to the consuming
    /// function's `/events` as Pub/Sub does on GCP.
    async fn create_push_subscriptions(&mut self) {
        for (topic, function) in ROUTES {
            let project = self.pubsub_project.clone();
            let path = format!("projects/{project}/subscriptions/{function}-{topic}");
            let body = json!({
                "topic": format!("projects/{project}/topics/{topic}"),
                "pushConfig": {"pushEndpoint": format!("{}/events", self.urls[function])},
                "ackDeadlineSeconds": 30,
            });
            self.put_pubsub(path, body).await;
        }
    }

    /// Removes what runs killed before their teardown left behind: their databases and
    /// their namespaces. Only when no process of theirs is running, under the run lock (so
    /// no other run is active); names are matched exactly (`e2e_alpes_<32 hex>`,
    /// `public/e2e-<32 hex>`). Best effort.
    pub async fn remove_leftovers(&self) {
        let mut removed = Vec::new();
        if let Ok(mut admin) = PgConnection::connect(&self.admin_database_url).await {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'e2e\\_%' ORDER BY datname",
            )
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
            for name in names {
                let ours = ["e2e_alpes_", "e2e_reportes_"]
                    .iter()
                    .any(|prefix| name.strip_prefix(prefix).is_some_and(is_run_id));
                if !ours {
                    continue;
                }
                let dropped = sqlx::query(AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .execute(&mut admin)
                .await;
                if dropped.is_ok() {
                    removed.push(format!("database {name}"));
                }
            }
            let _ = admin.close().await;
        }

        let client = http();
        let url = format!("{}/admin/v2/namespaces/public", self.pulsar_admin_url);
        let namespaces: Vec<String> = match client.get(&url).send().await {
            Ok(response) if response.status() == 200 => response.json().await.unwrap_or_default(),
            _ => Vec::new(),
        };
        for namespace in namespaces {
            let ours = namespace.strip_prefix("public/e2e-").is_some_and(is_run_id);
            if ours && delete_namespace(&client, &self.pulsar_admin_url, &namespace).await {
                removed.push(format!("namespace {namespace}"));
            }
        }
        if !removed.is_empty() {
            eprintln!(
                "e2e run {}: removed what earlier runs left behind: {}",
                self.run,
                removed.join(", ")
            );
        }
    }

    pub fn database_name(&self, database: Database) -> &str {
        match database {
            Database::Alpes => &self.alpes_database,
            Database::Reportes => &self.reportes_database,
        }
    }

    pub fn database_url(&self, database: Database) -> String {
        format!(
            "{}/{}{}",
            self.server,
            self.database_name(database),
            self.url_query
        )
    }

    pub async fn create_databases(&mut self) {
        let mut admin = PgConnection::connect(&self.admin_database_url)
            .await
            .unwrap_or_else(|error| {
                self.fail(format!(
                    "cannot connect to {} (is PostgreSQL running? `make services`): {error}",
                    self.admin_database_url
                ))
            });
        for database in [Database::Alpes, Database::Reportes] {
            let name = self.database_name(database).to_owned();
            sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|error| self.fail(format!("CREATE DATABASE {name}: {error}")));
            self.created_databases.push(name.clone());
            let connect = PgConnectOptions::from_str(&self.database_url(database))
                .unwrap_or_else(|error| self.fail(format!("the URL of {name}: {error}")));
            store::migrate(&connect)
                .await
                .unwrap_or_else(|error| self.fail(format!("migrating {name}: {error}")));
        }
        let _ = admin.close().await;
    }

    /// Starts `name` from `binaries` on a free port, logging to `<log dir>/<name>.log`.
    pub fn spawn(&mut self, binaries: &Path, name: &'static str, vars: &[(&str, String)]) {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let log_path = self.log_dir.join(format!("{name}.log"));
        let log = File::create(&log_path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", log_path.display()));
        let stderr = log.try_clone().expect("a second handle on the log file");
        let path = binaries.join(name);
        let child = Command::new(&path)
            .env_clear()
            .env("PORT", port.to_string())
            .env("RUST_BACKTRACE", "1")
            .env(RUN_MARKER, &self.run)
            .envs(vars.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| self.fail(format!("cannot start {}: {error}", path.display())));
        self.children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name, child));
        self.urls.insert(name, format!("http://127.0.0.1:{port}"));
    }

    pub fn start_function(&mut self, binaries: &Path, name: &'static str, database: Database) {
        let mut vars = vec![
            ("DATABASE_URL", self.database_url(database)),
            ("RELAY_INTERVAL_MS", "500".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        match self.topology {
            Topology::Pulsar => vars.extend([
                ("PULSAR_URL", self.pulsar_url.clone()),
                ("PULSAR_NAMESPACE", self.namespace.clone()),
                ("PUSH_AUTH", "static".to_owned()),
                ("PUSH_TOKEN", self.push_token.clone()),
            ]),
            Topology::PubSub => vars.extend([
                ("EVENT_BUS", "pubsub".to_owned()),
                ("GCP_PROJECT", self.pubsub_project.clone()),
                ("PUBSUB_EMULATOR_HOST", self.pubsub_host.clone()),
                ("PUSH_AUTH", "none".to_owned()),
            ]),
        }
        self.spawn(binaries, name, &vars);
    }

    /// The bridge's subscription for `function`: its name, as in production (the
    /// namespace is the run's own).
    pub fn subscription(&self, function: &str) -> String {
        function.to_owned()
    }

    /// `persistent://<run namespace>/<short>`.
    pub fn topic(&self, short: &str) -> String {
        format!("persistent://{}/{short}", self.namespace)
    }

    /// The admin API's URL of the run's topic `short`.
    pub fn topic_admin_url(&self, short: &str) -> String {
        format!(
            "{}/admin/v2/persistent/{}/{short}",
            self.pulsar_admin_url, self.namespace
        )
    }

    /// Creates the run's namespace, its topics and the bridge's subscriptions before the
    /// bridge starts, as a deployment has them (and so that nothing published before the
    /// bridge subscribes is missed).
    pub async fn create_subscriptions(&mut self) {
        let client = http();
        let namespace_url = format!(
            "{}/admin/v2/namespaces/{}",
            self.pulsar_admin_url, self.namespace
        );
        let mut resources = vec![namespace_url];
        let mut topics: Vec<&str> = ROUTES.iter().map(|(topic, _)| *topic).collect();
        topics.push("eventos-reportes");
        topics.dedup();
        resources.extend(topics.iter().map(|topic| self.topic_admin_url(topic)));
        for url in resources {
            match client.put(&url).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    self.fail(format!("PUT {url}: {status} {body}"))
                }
                Err(error) => self.fail(format!(
                    "PUT {url}: {error} (is Pulsar running? `make services`)"
                )),
            }
            self.namespace_created = true;
        }
        for (topic, function) in ROUTES {
            let subscription = self.subscription(function);
            let url = format!(
                "{}/subscription/{subscription}",
                self.topic_admin_url(topic)
            );
            let answer = client.put(&url).send().await;
            match answer {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    self.fail(format!("PUT {url}: {status} {body}"))
                }
                Err(error) => self.fail(format!(
                    "PUT {url}: {error} (is Pulsar running? `make services`)"
                )),
            }
        }
    }

    pub fn start_bridge(&mut self, binaries: &Path) {
        let routes: Vec<Value> = ROUTES
            .iter()
            .map(|(topic, function)| {
                json!({
                    "topic": topic,
                    "subscription": self.subscription(function),
                    "url": format!("{}/events", self.urls[function]),
                })
            })
            .collect();
        let mut vars = vec![
            ("PULSAR_URL", self.pulsar_url.clone()),
            ("PULSAR_NAMESPACE", self.namespace.clone()),
            ("PUSH_AUTH", "static".to_owned()),
            ("PUSH_TOKEN", self.push_token.clone()),
            ("BRIDGE_ROUTES", Value::Array(routes).to_string()),
            ("PULSAR_ADMIN_URL", self.pulsar_admin_url.clone()),
            ("BRIDGE_MIN_BACKOFF_MS", "200".to_owned()),
            ("BRIDGE_MAX_BACKOFF_MS", "2000".to_owned()),
            // About 17 s of attempts before a dead letter: longer than the fault tests'
            // outages (a function answering 503 for a few seconds).
            ("BRIDGE_MAX_ATTEMPTS", "12".to_owned()),
            ("RUST_LOG", "warn,pulsar=error".to_owned()),
        ];
        // The default table's variables too (BRIDGE_ROUTES replaces that table).
        for (variable, function) in [
            ("REGISTER_INFLUENCER_URL", REGISTER_INFLUENCER),
            ("CREATE_CAMPAIGN_URL", CREATE_CAMPAIGN),
            ("SEND_CONTRACT_URL", SEND_CONTRACT),
            ("GENERATE_REPORT_URL", GENERATE_REPORT),
            ("COMPENSATE_REPORT_URL", COMPENSATE_REPORT),
        ] {
            vars.push((variable, self.urls[function].clone()));
        }
        for (name, value) in BRIDGE_SETTINGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            vars.retain(|(known, _)| known != name);
            vars.push((name, value.clone()));
        }
        self.spawn(binaries, BRIDGE, &vars);
    }

    /// Waits until every process answers `GET /ready` with 200.
    pub async fn wait_ready(&self) {
        let client = http();
        let deadline = Instant::now() + READY_TIMEOUT;
        for (name, base_url) in &self.urls {
            loop {
                let answer = client
                    .get(format!("{base_url}/ready"))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let last = match answer {
                    Ok(response) if response.status() == 200 => break,
                    Ok(response) => format!(
                        "{} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    ),
                    Err(error) => error.to_string(),
                };
                if let Some(exited) = self.exited() {
                    self.fail(format!("a process stopped before being ready: {exited}"));
                }
                if Instant::now() >= deadline {
                    self.fail(format!(
                        "{name} did not answer GET /ready with 200 within {READY_TIMEOUT:?} (last answer: {last})"
                    ));
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }

    /// The children that have exited, if any.
    pub fn exited(&self) -> Option<String> {
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        let exited: Vec<String> = children
            .iter_mut()
            .filter_map(|(name, child)| match child.try_wait() {
                Ok(Some(status)) => Some(format!("{name} exited ({status})")),
                _ => None,
            })
            .collect();
        (!exited.is_empty()).then(|| exited.join(", "))
    }

    /// Fails the test with `message`, the processes that died and where the logs are.
    pub fn fail(&self, message: impl Display) -> ! {
        let exited = self
            .exited()
            .map(|exited| format!("\nprocesses no longer running: {exited}"))
            .unwrap_or_default();
        let stale = self
            .stale
            .as_ref()
            .map(|stale| format!("\n{stale}"))
            .unwrap_or_default();
        panic!(
            "{message}{exited}{stale}\nlogs of every process (run {}): {}",
            self.run,
            self.log_dir.display()
        )
    }

    /// The process id of the child `name` (to signal it).
    pub fn pid_of(&self, name: &str) -> u32 {
        self.children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(child, _)| *child == name)
            .map(|(_, child)| child.id())
            .unwrap_or_else(|| self.fail(format!("no process {name}")))
    }

    pub fn url(&self, function: &str, path: &str) -> String {
        format!("{}{path}", self.urls[function])
    }

    /// Prints where the logs are if the test holding the guard fails.
    pub fn log_hint(&self) -> LogHint<'_> {
        LogHint(self)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let teardown = Teardown {
            children: std::mem::take(
                &mut *self.children.lock().unwrap_or_else(PoisonError::into_inner),
            ),
            bridge_url: self.urls.get(BRIDGE).cloned(),
            log_dir: self.log_dir.clone(),
            admin_database_url: self.admin_database_url.clone(),
            databases: std::mem::take(&mut self.created_databases),
            pulsar_admin_url: self.pulsar_admin_url.clone(),
            namespace: self.namespace_created.then(|| self.namespace.clone()),
            pubsub_host: self.pubsub_host.clone(),
            pubsub_resources: std::mem::take(&mut self.pubsub_resources),
            lock: self.lock.take(),
        };
        // Its own thread and runtime: the test's runtime may be gone or busy unwinding.
        let _ = std::thread::spawn(move || teardown.run()).join();
    }
}

/// What dropping an [`Env`] cleans up.
pub struct Teardown {
    children: Vec<(&'static str, Child)>,
    bridge_url: Option<String>,
    log_dir: PathBuf,
    admin_database_url: String,
    databases: Vec<String>,
    pulsar_admin_url: String,
    /// The run's namespace, if it was created.
    namespace: Option<String>,
    pubsub_host: String,
    pubsub_resources: Vec<String>,
    /// Released last, once nothing of the run is left.
    lock: Option<RunLock>,
}

impl Teardown {
    pub fn run(mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else {
            self.kill_children();
            return;
        };
        let lock = self.lock.take();
        runtime.block_on(async {
            self.save_bridge_metrics().await;
            self.kill_children();
            if tokio::time::timeout(TEARDOWN_TIMEOUT, self.drop_databases())
                .await
                .is_err()
            {
                eprintln!(
                    "e2e teardown: dropping {:?} took over {TEARDOWN_TIMEOUT:?}",
                    self.databases
                );
            }
            if tokio::time::timeout(TEARDOWN_TIMEOUT, self.delete_pubsub_resources())
                .await
                .is_err()
            {
                eprintln!(
                    "e2e teardown: deleting the Pub/Sub resources took over {TEARDOWN_TIMEOUT:?}"
                );
            }
            if let Some(namespace) = &self.namespace {
                let deleted = tokio::time::timeout(
                    TEARDOWN_TIMEOUT,
                    delete_namespace(&http(), &self.pulsar_admin_url, namespace),
                )
                .await;
                if !matches!(deleted, Ok(true)) {
                    eprintln!(
                        "e2e teardown: namespace {namespace} not deleted (the next run removes it)"
                    );
                }
            }
        });
        drop(lock);
    }

    /// Keeps the bridge's counters (delivered, failed, dead-lettered) beside the logs.
    pub async fn save_bridge_metrics(&self) {
        let Some(bridge_url) = &self.bridge_url else {
            return;
        };
        let metrics = async {
            http()
                .get(format!("{bridge_url}/metrics"))
                .timeout(Duration::from_secs(3))
                .send()
                .await?
                .text()
                .await
        };
        if let Ok(text) = metrics.await {
            let _ = std::fs::write(self.log_dir.join("bridge-metrics.txt"), text);
        }
    }

    pub fn kill_children(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn drop_databases(&self) {
        if self.databases.is_empty() {
            return;
        }
        let mut admin = match PgConnection::connect(&self.admin_database_url).await {
            Ok(admin) => admin,
            Err(error) => {
                eprintln!("e2e teardown: cannot drop {:?}: {error}", self.databases);
                return;
            }
        };
        for name in &self.databases {
            let dropped = sqlx::query(AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
            )))
            .execute(&mut admin)
            .await;
            if let Err(error) = dropped {
                eprintln!("e2e teardown: DROP DATABASE {name}: {error}");
            }
        }
        let _ = admin.close().await;
    }

    /// Deletes the run's emulator subscriptions and topics (subscriptions first: the
    /// emulator would keep pushing to processes that are gone).
    pub async fn delete_pubsub_resources(&self) {
        let client = http();
        for path in self.pubsub_resources.iter().rev() {
            let url = format!("http://{}/v1/{path}", self.pubsub_host);
            match client.delete(&url).send().await {
                Ok(response) if response.status().is_success() || response.status() == 404 => {}
                Ok(response) => eprintln!("e2e teardown: DELETE {url}: {}", response.status()),
                Err(error) => eprintln!("e2e teardown: DELETE {url}: {error}"),
            }
        }
    }
}

/// Names the log directory when the test holding it panics.
pub struct LogHint<'a>(&'a Env);

impl Drop for LogHint<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(stale) = &self.0.stale {
                eprintln!("e2e run {}: {stale}", self.0.run);
            }
            eprintln!(
                "e2e run {} failed; logs of every process: {}",
                self.0.run,
                self.0.log_dir.display()
            );
        }
    }
}

/// Environment variable marking the children of a run (its value is the run id).
pub const RUN_MARKER: &str = "ALPES_E2E_RUN";
/// The PostgreSQL advisory lock serializing e2e runs ("alpese2e").
pub const RUN_LOCK_KEY: i64 = 0x616c_7065_7365_3265;
/// How long a run waits for another one to finish.
pub const RUN_LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// One e2e run at a time against the dev services: a session advisory lock in the database
/// of `DATABASE_URL`, held by a connection on its own thread until dropped.
///
/// Subscriptions of concurrent runs never steal each other's messages, but every run's
/// functions act on every message of the shared topics: a second run's send-contract
/// signs a contract for this run's campaign and announces it, and this run's
/// generate-report then attaches that foreign contract to its report (seen when two runs
/// overlapped). So runs wait for each other instead. A closed connection (a run that
/// died) releases the lock.
pub struct RunLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

impl RunLock {
    pub async fn acquire(database_url: String) -> Self {
        let (acquired_tx, acquired_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = acquired_tx.send(Err(format!("a runtime for the run lock: {error}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut connection = match PgConnection::connect(&database_url).await {
                    Ok(connection) => connection,
                    Err(error) => {
                        let _ = acquired_tx.send(Err(format!(
                            "cannot connect to {database_url} (is PostgreSQL running? `make services`): {error}"
                        )));
                        return;
                    }
                };
                let deadline = Instant::now() + RUN_LOCK_TIMEOUT;
                let mut announced = false;
                loop {
                    let locked: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                        .bind(RUN_LOCK_KEY)
                        .fetch_one(&mut connection)
                        .await;
                    match locked {
                        Ok(true) => break,
                        Ok(false) if Instant::now() < deadline => {
                            if !announced {
                                eprintln!("e2e: waiting for another e2e run to finish (advisory lock {RUN_LOCK_KEY})");
                                announced = true;
                            }
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                        Ok(false) => {
                            let _ = acquired_tx.send(Err(format!(
                                "another e2e run held the advisory lock {RUN_LOCK_KEY} for over {RUN_LOCK_TIMEOUT:?}"
                            )));
                            return;
                        }
                        Err(error) => {
                            let _ = acquired_tx.send(Err(format!("pg_try_advisory_lock: {error}")));
                            return;
                        }
                    }
                }
                if acquired_tx.send(Ok(())).is_err() {
                    return;
                }
                // Until the run is over (the sender dropped): nothing else runs on this
                // thread, and the idle connection keeps the lock.
                let _ = released.recv();
                let _ = connection.close().await;
            });
        });
        let lock = Self {
            release: Some(release),
            holder: Some(holder),
        };
        match acquired_rx.await {
            Ok(Ok(())) => lock,
            Ok(Err(error)) => panic!("{error}"),
            Err(_) => panic!("the run lock's thread ended without an answer"),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            let _ = holder.join();
        }
    }
}

/// Processes started by an earlier run that are still running (its test process was
/// killed before its teardown): while this run holds the lock no other run is active, so
/// any process carrying [`RUN_MARKER`] is left over. They consume the same topics and act
/// on this run's events, so a failure names them.
pub fn stale_processes() -> Option<String> {
    let marker = format!("{RUN_MARKER}=");
    let stale: Vec<String> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|byte| byte.is_ascii_digit())
        })
        .filter_map(|entry| {
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let run = environ
                .split(|byte| *byte == 0)
                .find_map(|variable| variable.strip_prefix(marker.as_bytes()))?;
            Some(format!(
                "{} (run {})",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(run)
            ))
        })
        .collect();
    (!stale.is_empty()).then(|| {
        format!(
            "processes of an earlier e2e run are still running and act on this run's events too; stop them: pids {}",
            stale.join(", ")
        )
    })
}

/// Whether `text` is a run's id: a UUID in simple form (32 lower-case hex digits).
pub fn is_run_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// Deletes `namespace` (`tenant/name`) and its topics (subscriptions, the bridge's retry,
/// attempt and dead-letter topics): whether it is gone. Best effort.
pub async fn delete_namespace(client: &reqwest::Client, admin_url: &str, namespace: &str) -> bool {
    let topics_url = format!("{admin_url}/admin/v2/namespaces/{namespace}/topics");
    let topics: Vec<String> = match client.get(&topics_url).send().await {
        Ok(response) if response.status() == 200 => response.json().await.unwrap_or_default(),
        _ => Vec::new(),
    };
    for topic in topics {
        let Some(path) = topic.strip_prefix("persistent://") else {
            continue;
        };
        let url = format!("{admin_url}/admin/v2/persistent/{path}?force=true");
        if let Err(error) = client.delete(&url).send().await {
            eprintln!("e2e: DELETE {url}: {error}");
        }
    }
    let url = format!("{admin_url}/admin/v2/namespaces/{namespace}");
    match client.delete(&url).send().await {
        Ok(response) if response.status().is_success() || response.status() == 404 => true,
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            eprintln!("e2e: DELETE {url}: {status} {body}");
            false
        }
        Err(error) => {
            eprintln!("e2e: DELETE {url}: {error}");
            false
        }
    }
}

/// `target/<profile>/`, where cargo puts the binaries: the test executable runs from
/// `target/<profile>/deps/`. Fails when a binary is missing.
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let mut dir = exe
        .parent()
        .expect("the test executable is in a directory")
        .to_path_buf();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.pop();
    }
    let missing: Vec<&str> = FUNCTIONS
        .iter()
        .map(|(name, _)| *name)
        .chain([BRIDGE])
        .filter(|name| !dir.join(name).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "missing binaries {missing:?} in {}: run `cargo build --bins` first \
         (same profile as the tests; `make test` builds them)",
        dir.display()
    );
    dir
}

pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

// ---------------------------------------------------------------------------------------
// HTTP and polling.
// ---------------------------------------------------------------------------------------

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// `GET url` answering 200 with a JSON array; anything else is the error.
pub async fn get_array(client: &reqwest::Client, url: &str) -> Result<Vec<Value>, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    if status != 200 {
        return Err(format!("GET {url}: {status} {text}"));
    }
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        _ => Err(format!("GET {url}: not a JSON array: {text}")),
    }
}

/// `POST url` with `body`: the status and the JSON answer.
pub async fn post_json(
    env: &Env,
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|error| env.fail(format!("POST {url}: {error}")));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Polls `probe` every 100 ms until it answers `Ok`, for at most [`FLOW_TIMEOUT`]; fails
/// with the last state it saw (`Err`). A probe may also fail at once ([`Env::fail`]) when
/// what it sees can never turn right.
pub async fn eventually<T>(
    env: &Env,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + FLOW_TIMEOUT;
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(state) => state,
        };
        if Instant::now() >= deadline {
            env.fail(format!(
                "{what}: not reached within {FLOW_TIMEOUT:?}; last seen: {last}"
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

pub fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// The flows' steps.
// ---------------------------------------------------------------------------------------

pub struct Influencer {
    pub id: String,
    pub nombre: String,
    pub email: String,
}

/// `POST /influencers` with a unique email: 201. Returns the influencer and when the 201
/// arrived.
pub async fn register_influencer(
    env: &Env,
    client: &reqwest::Client,
    nombre: &str,
) -> (Influencer, Instant) {
    let email = format!("e2e-{}@example.com", Uuid::new_v4().simple());
    let url = env.url(REGISTER_INFLUENCER, "/influencers");
    let (status, body) = post_json(
        env,
        client,
        &url,
        &json!({"nombre": nombre, "email": email, "categorias": ["moda", "viajes"]}),
    )
    .await;
    let registered_at = Instant::now();
    if status != 201 {
        env.fail(format!("POST {url}: {status} {body}"));
    }
    let influencer = Influencer {
        id: text(&body, "id").to_owned(),
        nombre: nombre.to_owned(),
        email,
    };
    if influencer.id.is_empty() {
        env.fail(format!("POST {url}: 201 without an id: {body}"));
    }
    (influencer, registered_at)
}

/// `POST /campanas` for `influencer` (201); returns the campaign.
pub async fn create_campaign(
    env: &Env,
    client: &reqwest::Client,
    body: &Value,
    expected_status: u16,
) -> Value {
    let url = env.url(CREATE_CAMPAIGN, "/campanas");
    let (status, answer) = post_json(env, client, &url, body).await;
    if status != expected_status {
        env.fail(format!(
            "POST {url} {body}: {status} {answer}, expected {expected_status}"
        ));
    }
    answer
}

pub fn campaign_body(influencer: &Influencer, nombre: &str, tipo_contrato: &str) -> Value {
    json!({
        "nombre": nombre,
        "descripcion": "Campaña de la prueba de punta a punta",
        "valor_comision": 250,
        "moneda": "EUR",
        "categorias_objetivo": ["moda"],
        "influencer_id": influencer.id,
        "influencer_nombre": influencer.nombre,
        "influencer_email": influencer.email,
        "tipo_contrato": tipo_contrato,
        "entregables": "3 publicaciones",
    })
}

/// Waits for exactly one campaign of `influencer_id` (two or more fail at once).
pub async fn the_one_campaign_of(
    env: &Env,
    client: &reqwest::Client,
    influencer_id: &str,
) -> Value {
    let url = env.url(
        CREATE_CAMPAIGN,
        &format!("/campanas?influencer_id={influencer_id}&limite=100"),
    );
    eventually(
        env,
        &format!("one campaign of influencer {influencer_id}"),
        async || {
            let campaigns = get_array(client, &url).await?;
            match campaigns.as_slice() {
                [campaign] => Ok(campaign.clone()),
                [] => Err("no campaign yet".to_owned()),
                _ => env.fail(format!(
                    "influencer {influencer_id} has {} campaigns, expected one: {campaigns:#?}",
                    campaigns.len()
                )),
            }
        },
    )
    .await
}

/// The contracts of (`influencer_id`, `campaign_id`) as send-contract lists them.
pub async fn contracts_of(
    client: &reqwest::Client,
    env: &Env,
    influencer_id: &str,
    campaign_id: Option<&str>,
) -> Result<Vec<Value>, String> {
    let mut path = format!("/contratos?id_influencer={influencer_id}&limite=100");
    if let Some(campaign_id) = campaign_id {
        path.push_str(&format!("&id_campana={campaign_id}"));
    }
    get_array(client, &env.url(SEND_CONTRACT, &path)).await
}

/// Waits for exactly one contract of (`influencer_id`, `campaign_id`).
pub async fn the_one_contract_of(
    env: &Env,
    client: &reqwest::Client,
    influencer_id: &str,
    campaign_id: &str,
) -> Value {
    eventually(
        env,
        &format!("the contract of influencer {influencer_id} in campaign {campaign_id}"),
        async || {
            let contracts = contracts_of(client, env, influencer_id, Some(campaign_id)).await?;
            match contracts.as_slice() {
                [contract] => Ok(contract.clone()),
                [] => Err("no contract yet".to_owned()),
                _ => env.fail(format!(
                    "campaign {campaign_id} has {} contracts, expected one: {contracts:#?}",
                    contracts.len()
                )),
            }
        },
    )
    .await
}

/// The reports of `campaign_id` as generate-report lists them.
pub async fn reports_of(
    client: &reqwest::Client,
    env: &Env,
    campaign_id: &str,
) -> Result<Vec<Value>, String> {
    let url = env.url(
        GENERATE_REPORT,
        &format!("/reportes?id_campana={campaign_id}&limite=100"),
    );
    get_array(client, &url).await
}

/// Waits for the campaign's only report to be `estado`. Two reports, or a report in
/// `never` (a state it cannot leave towards `estado`), fail at once.
pub async fn the_report_of(
    env: &Env,
    client: &reqwest::Client,
    campaign_id: &str,
    estado: &str,
    never: &str,
) -> Value {
    eventually(
        env,
        &format!("the report of campaign {campaign_id} {estado}"),
        async || {
            let reports = reports_of(client, env, campaign_id).await?;
            match reports.as_slice() {
                [report] if report["estado"] == estado => Ok(report.clone()),
                [report] if report["estado"] == never => env.fail(format!(
                    "the report of campaign {campaign_id} is {never}, expected {estado}: {report:#}"
                )),
                [report] => Err(format!("one report, {}: {report}", report["estado"])),
                [] => Err("no report yet".to_owned()),
                _ => env.fail(format!(
                    "campaign {campaign_id} has {} reports, expected one: {reports:#?}",
                    reports.len()
                )),
            }
        },
    )
    .await
}

/// Flow 2 after the registration: the welcome campaign, its contract, its completed report.
pub async fn the_welcome_saga(
    env: &Env,
    client: &reqwest::Client,
    influencer: &Influencer,
) -> (Value, Value, Value) {
    let campaign = the_one_campaign_of(env, client, &influencer.id).await;
    let campaign_id = text(&campaign, "id");
    let contract = the_one_contract_of(env, client, &influencer.id, campaign_id).await;
    let report = the_report_of(env, client, campaign_id, "completado", "cancelado").await;
    (campaign, contract, report)
}

/// Waits until the bridge has settled every message published so far on `routes` (each
/// subscription and its retry topic have no backlog): each was pushed and acknowledged
/// after a 2xx, or dead-lettered after its attempts.
pub async fn wait_settled(env: &Env, client: &reqwest::Client, routes: &[(&str, &str)]) {
    eventually(
        env,
        "the bridge has settled the run's subscriptions",
        async || {
            let mut pending = Vec::new();
            for (topic, function) in routes {
                let subscription = env.subscription(function);
                for (topic, must_exist) in [
                    ((*topic).to_owned(), true),
                    (format!("{topic}-{subscription}-RETRY"), false),
                ] {
                    let url = format!(
                        "{}/stats?getPreciseBacklog=true",
                        env.topic_admin_url(&topic)
                    );
                    let response = client
                        .get(&url)
                        .send()
                        .await
                        .map_err(|error| format!("GET {url}: {error}"))?;
                    if response.status() == 404 && !must_exist {
                        continue;
                    }
                    if response.status() != 200 {
                        return Err(format!("GET {url}: {}", response.status()));
                    }
                    let stats: Value = response
                        .json()
                        .await
                        .map_err(|error| format!("GET {url}: {error}"))?;
                    let backlog = &stats["subscriptions"][&subscription]["msgBacklog"];
                    match backlog.as_u64() {
                        Some(0) => {}
                        Some(count) => pending.push(format!("{topic}/{subscription}: {count}")),
                        None if !must_exist => {}
                        None => return Err(format!("{topic} has no subscription {subscription}")),
                    }
                }
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("backlog: {}", pending.join(", ")))
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Events: publishing as another producer would, and reading a topic of the run.
// ---------------------------------------------------------------------------------------

/// A payload from its JSON fields (every contract field is optional).
pub fn payload<P: serde::de::DeserializeOwned>(fields: Value) -> P {
    serde_json::from_value(fields).expect("the payload's fields")
}

/// `CampanaCreada` of campaign `id`, for influencer `influencer` (`None`: no contract step).
pub fn campaign_created(id: &str, influencer: Option<&Influencer>) -> IntegrationEvent {
    IntegrationEvent::CampanaCreada(payload(json!({
        "campana_id": id,
        "nombre": format!("Campaña {id}"),
        "descripcion": "Publicada por la prueba",
        "tipo_comision": "cpa",
        "valor_comision": 300.0,
        "moneda": "EUR",
        "categorias_objetivo": ["moda"],
        "fecha_inicio": "2026-12-01T00:00:00",
        "fecha_fin": "2026-12-31T23:59:59",
        "influencer_id": influencer.map(|influencer| influencer.id.clone()),
        "influencer_nombre": influencer.map(|influencer| influencer.nombre.clone()),
        "influencer_email": influencer.map(|influencer| influencer.email.clone()),
        "monto_base": 300.0,
        "entregables": "2 publicaciones",
        "tipo_contrato": "exclusivo",
        "fecha_creacion": "2026-11-27 10:00:00.123456",
    })))
}

/// `ContratoCreado` of contract `contract_id` in campaign `campaign_id`.
pub fn contract_created(
    contract_id: &str,
    influencer_id: &str,
    campaign_id: &str,
) -> IntegrationEvent {
    IntegrationEvent::ContratoCreado(payload(json!({
        "id_contrato": contract_id,
        "id_influencer": influencer_id,
        "id_campana": campaign_id,
        "monto_total": 300.0,
        "moneda": "EUR",
        "tipo_contrato": "exclusivo",
        "fecha_creacion": "2026-11-27 10:00:01.000000",
    })))
}

/// `ContratoError` (a rejected contract step) for campaign `campaign_id`.
pub fn contract_rejected(influencer_id: &str, campaign_id: &str) -> IntegrationEvent {
    IntegrationEvent::ContratoError(payload(json!({
        "id_contrato": Uuid::new_v4().to_string(),
        "id_influencer": influencer_id,
        "id_campana": campaign_id,
        "monto_total": 300.0,
        "moneda": "EUR",
        "tipo_contrato": "exclusivo",
        "fecha_creacion": "2026-11-27 10:00:01.000000",
        "error": "ContratoRechazado",
        "error_detalle": "el influencer ya tiene un contrato exclusivo activo",
    })))
}

impl Env {
    /// A connection to the run's `database`, for assertions on what the functions stored.
    pub async fn connect(&self, database: Database) -> PgConnection {
        let url = self.database_url(database);
        PgConnection::connect(&url)
            .await
            .unwrap_or_else(|error| self.fail(format!("connect to {url}: {error}")))
    }

    /// A publisher on the run's namespace.
    pub fn pulsar_bus(&self) -> PulsarBus {
        PulsarBus::new(PulsarSettings {
            url: self.pulsar_url.clone(),
            token: None,
            operation_timeout: Duration::from_secs(15),
            namespace: self.namespace.clone(),
        })
    }

    /// Publishes `event` as a producer of the saga would: a new event id, `correlation_id`
    /// and the event type as properties, the registry's Avro schema.
    pub async fn publish(&self, bus: &PulsarBus, event: &IntegrationEvent, correlation_id: &str) {
        let metadata = EventMetadata {
            event_id: Uuid::now_v7(),
            event_type: event.event_type().to_owned(),
            correlation_id: correlation_id.to_owned(),
            causation_id: None,
            occurred_at: chrono::Utc::now(),
            producer: "e2e".to_owned(),
        };
        let message = OutboxMessage::new(event, &metadata)
            .unwrap_or_else(|error| self.fail(format!("encode {event:?}: {error}")));
        Box::pin(bus.publish(&message))
            .await
            .unwrap_or_else(|error| self.fail(format!("publish {event:?}: {error}")));
    }

    /// A consumer of the run's topic `short` from now on (its own subscription).
    pub async fn subscribe(&self, short: &str) -> EventConsumer {
        let topic = Topic::from_name(short).expect("a contract topic");
        let client = tokio::time::timeout(
            Duration::from_secs(30),
            Box::pin(Pulsar::builder(self.pulsar_url.clone(), TokioExecutor).build()),
        )
        .await
        .unwrap_or_else(|_| self.fail("Pulsar did not answer within 30 s"))
        .unwrap_or_else(|error| self.fail(format!("connect to Pulsar: {error}")));
        let consumer = tokio::time::timeout(
            Duration::from_secs(30),
            Box::pin(
                client
                    .consumer()
                    .with_topic(self.topic(short))
                    .with_subscription(format!("e2e-reader-{}", Uuid::new_v4().simple()))
                    .with_options(
                        ConsumerOptions::default().with_initial_position(InitialPosition::Latest),
                    )
                    .build(),
            ),
        )
        .await
        .unwrap_or_else(|_| self.fail(format!("subscribing to {short} took over 30 s")))
        .unwrap_or_else(|error| self.fail(format!("subscribe to {short}: {error}")));
        EventConsumer {
            topic,
            consumer,
            seen: Vec::new(),
        }
    }
}

/// Reads one topic of the run, keeping every event it decoded.
pub struct EventConsumer {
    topic: Topic,
    consumer: Consumer<Vec<u8>, TokioExecutor>,
    /// Every event read so far, with its properties, in arrival order.
    pub seen: Vec<(IntegrationEvent, BTreeMap<String, String>, Instant)>,
}

impl EventConsumer {
    /// Reads (acknowledging everything) until `done` holds for what was seen, for at most
    /// `within`; the error names how many events were seen.
    pub async fn read_until(
        &mut self,
        within: Duration,
        mut done: impl FnMut(&[(IntegrationEvent, BTreeMap<String, String>, Instant)]) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        while !done(&self.seen) {
            let next = tokio::time::timeout_at(deadline, self.consumer.next()).await;
            let message = match next {
                Err(_) => {
                    return Err(format!(
                        "{} events read on {} within {within:?}, not the expected ones",
                        self.seen.len(),
                        self.topic
                    ));
                }
                Ok(None) => return Err(format!("the consumer of {} ended", self.topic)),
                Ok(Some(Err(error))) => return Err(format!("receive on {}: {error}", self.topic)),
                Ok(Some(Ok(message))) => message,
            };
            let arrived = Instant::now();
            let _ = self.consumer.ack(&message).await;
            let properties = message
                .metadata()
                .properties
                .iter()
                .map(|pair| (pair.key.clone(), pair.value.clone()))
                .collect();
            match IntegrationEvent::decode(self.topic, &message.payload.data) {
                Ok(event) => self.seen.push((event, properties, arrived)),
                Err(error) => {
                    return Err(format!("undecodable message on {}: {error}", self.topic));
                }
            }
        }
        Ok(())
    }

    /// The report events seen for campaign `campaign_id`: (`tipo_evento`, `estado`).
    pub fn report_events_of(&self, campaign_id: &str) -> Vec<(String, String)> {
        report_events(&self.seen, campaign_id)
    }

    /// Reads until `expected` report events of `campaign_id` were seen (or fails the test
    /// naming what was), then waits `quiet` more and checks that nothing else came.
    pub async fn expect_report_events(
        &mut self,
        env: &Env,
        campaign_id: &str,
        expected: &[(&str, &str)],
        quiet: Duration,
    ) {
        let wanted: Vec<(String, String)> = expected
            .iter()
            .map(|(kind, state)| ((*kind).to_owned(), (*state).to_owned()))
            .collect();
        let reached = self
            .read_until(FLOW_TIMEOUT, |seen| {
                report_events(seen, campaign_id).len() >= wanted.len()
            })
            .await;
        let _ = self.read_until(quiet, |_| false).await;
        let seen = self.report_events_of(campaign_id);
        if let Err(error) = reached {
            env.fail(format!(
                "eventos-reportes of campaign {campaign_id}: {error}; seen {seen:?}, expected {wanted:?}"
            ));
        }
        assert_eq!(seen, wanted, "eventos-reportes of campaign {campaign_id}");
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.consumer.unsubscribe()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.consumer.close()).await;
    }
}

/// The report events in `seen` for campaign `campaign_id`: (`tipo_evento`, `estado`).
pub fn report_events(
    seen: &[(IntegrationEvent, BTreeMap<String, String>, Instant)],
    campaign_id: &str,
) -> Vec<(String, String)> {
    seen.iter()
        .filter_map(|(event, _, _)| match event {
            IntegrationEvent::Reporte(report)
                if report.id_campana.as_deref() == Some(campaign_id) =>
            {
                Some((
                    report.tipo_evento.clone().unwrap_or_default(),
                    report.estado.clone().unwrap_or_default(),
                ))
            }
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Flows shared by the Pulsar and the Pub/Sub topologies.
// ---------------------------------------------------------------------------------------

/// Flow 2 then flow 1 through HTTP and events: `POST /influencers` -> exactly one welcome
/// campaign -> its contract and its report -> the report completed with the contract
/// attached. Returns the influencer, campaign, contract and report.
pub async fn welcome_saga_flow(
    env: &Env,
    client: &reqwest::Client,
    nombre: &str,
) -> (Influencer, Value, Value, Value) {
    let (influencer, registered_at) = register_influencer(env, client, nombre).await;
    let (campaign, contract, report) = the_welcome_saga(env, client, &influencer).await;
    let latency = registered_at.elapsed();
    let line = format!(
        "e2e saga latency (201 of POST /influencers -> report completado, polled every {POLL_EVERY:?}): {latency:?}"
    );
    println!("{line}");
    let _ = std::fs::write(env.log_dir.join("saga-latency.txt"), format!("{line}\n"));

    let campaign_id = text(&campaign, "id");
    assert_eq!(campaign["bienvenida"], true, "{campaign:#}");
    assert_eq!(
        campaign["nombre"],
        format!("Campaña de bienvenida para {nombre}"),
        "{campaign:#}"
    );
    assert_eq!(campaign["tipo_contrato"], "puntual", "{campaign:#}");
    assert_eq!(campaign["influencer_email"], influencer.email.as_str());

    assert_eq!(contract["estado"], "activo", "{contract:#}");
    assert_eq!(contract["tipo_contrato"], "puntual", "{contract:#}");
    assert_eq!(contract["monto_total"], 100.0, "{contract:#}");
    assert_eq!(contract["moneda"], "USD", "{contract:#}");

    assert_eq!(report["tipo_reporte"], "campana", "{report:#}");
    assert_eq!(report["id_campana"], campaign_id, "{report:#}");
    assert_eq!(
        report["id_influencer"],
        influencer.id.as_str(),
        "{report:#}"
    );
    assert_eq!(report["id_contrato"], contract["id"], "{report:#}");
    assert_eq!(report["monto_total"], 100.0, "{report:#}");
    assert_eq!(report["moneda"], "USD", "{report:#}");

    (influencer, campaign, contract, report)
}

/// Flow 1 with a rejected contract (SPEC 7 item 3): an influencer holds one active
/// exclusive contract at most, so the second exclusive campaign's contract is rejected and
/// that campaign's report ends `cancelado` by the compensation; the first stays
/// `completado`.
pub async fn exclusive_compensation_flow(env: &Env, client: &reqwest::Client) {
    let (influencer, _) = register_influencer(env, client, "Bea E2E").await;
    let (welcome, _, _) = the_welcome_saga(env, client, &influencer).await;

    let first = create_campaign(
        env,
        client,
        &campaign_body(&influencer, "Exclusiva A", "exclusivo"),
        201,
    )
    .await;
    let first_id = text(&first, "id");
    let first_contract = the_one_contract_of(env, client, &influencer.id, first_id).await;
    assert_eq!(
        first_contract["tipo_contrato"], "exclusivo",
        "{first_contract:#}"
    );
    assert_eq!(first_contract["estado"], "activo", "{first_contract:#}");
    assert_eq!(first_contract["monto_total"], 250.0, "{first_contract:#}");
    let first_report = the_report_of(env, client, first_id, "completado", "cancelado").await;
    assert_eq!(
        first_report["id_contrato"], first_contract["id"],
        "{first_report:#}"
    );

    let second = create_campaign(
        env,
        client,
        &campaign_body(&influencer, "Exclusiva B", "exclusivo"),
        201,
    )
    .await;
    let second_id = text(&second, "id");
    let second_report = the_report_of(env, client, second_id, "cancelado", "completado").await;
    let motivo = text(&second_report, "motivo");
    assert!(
        motivo.starts_with("ContratoRechazado"),
        "the motivo of the cancelled report: {second_report:#}"
    );
    assert!(
        second_report["id_contrato"].is_null(),
        "a rejected contract is never attached: {second_report:#}"
    );

    // The compensation came from the rejection, so the contract step is over.
    let second_contracts = contracts_of(client, env, &influencer.id, Some(second_id))
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        second_contracts.is_empty(),
        "the rejected campaign has a contract: {second_contracts:#?}"
    );
    let first_reports = reports_of(client, env, first_id)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        matches!(first_reports.as_slice(), [report] if report["estado"] == "completado"),
        "the first campaign's report stays completado: {first_reports:#?}"
    );
    let mut contracts: Vec<(String, String)> = contracts_of(client, env, &influencer.id, None)
        .await
        .unwrap_or_else(|error| env.fail(error))
        .iter()
        .map(|contract| {
            (
                text(contract, "id_campana").to_owned(),
                text(contract, "tipo_contrato").to_owned(),
            )
        })
        .collect();
    contracts.sort();
    let mut expected = vec![
        (text(&welcome, "id").to_owned(), "puntual".to_owned()),
        (first_id.to_owned(), "exclusivo".to_owned()),
    ];
    expected.sort();
    assert_eq!(contracts, expected, "the influencer's contracts");
}

// ---------------------------------------------------------------------------------------
// The bridge's retries and dead letters (issue 13).
// ---------------------------------------------------------------------------------------

/// A child of the run stopped with SIGSTOP; SIGCONT when resumed or dropped.
pub struct Frozen {
    pid: u32,
    resumed: bool,
}

pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|status| status.success())
}

impl Frozen {
    pub fn new(env: &Env, name: &str) -> Self {
        let pid = env.pid_of(name);
        if !signal(pid, "-STOP") {
            env.fail(format!("cannot SIGSTOP {name} (pid {pid})"));
        }
        Self {
            pid,
            resumed: false,
        }
    }

    pub fn resume(&mut self) {
        self.resumed = signal(self.pid, "-CONT");
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if !self.resumed {
            signal(self.pid, "-CONT");
        }
    }
}

/// The value of `name{route="<route>",...}` on the bridge's `/metrics`.
pub async fn bridge_metric(env: &Env, client: &reqwest::Client, name: &str, route: &str) -> f64 {
    let text = client
        .get(env.url(BRIDGE, "/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|error| env.fail(format!("GET /metrics: {error}")))
        .text()
        .await
        .unwrap_or_default();
    let prefix = format!("{name}{{route=\"{route}\",");
    text.lines()
        .find(|line| line.starts_with(&prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| env.fail(format!("no {prefix} in the bridge's metrics")))
}

/// Messages kept on the `dlq` subscription of the run's dead-letter topic `short`.
pub async fn dead_letter_backlog(env: &Env, client: &reqwest::Client, short: &str) -> u64 {
    let url = format!("{}/stats", env.topic_admin_url(short));
    let answer = client
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match answer {
        Ok(response) if response.status() == 404 => 0,
        Ok(response) if response.status().is_success() => {
            let stats: serde_json::Value = response.json().await.unwrap_or_default();
            if stats["subscriptions"]["dlq"].is_null() {
                env.fail(format!("{short} has no dlq subscription: {stats}"));
            }
            stats["subscriptions"]["dlq"]["msgBacklog"]
                .as_u64()
                .unwrap_or(0)
        }
        Ok(response) => env.fail(format!("GET {url}: {}", response.status())),
        Err(error) => env.fail(format!("GET {url}: {error}")),
    }
}

/// Runs `pulsar-bridge dlq <args>` (the built binary) against the run's namespace, for at
/// most 150 s; its stdout, or the test fails with its stderr.
pub async fn dlq_command(env: &Env, args: &[&str]) -> String {
    let mut command = Command::new(binaries_dir().join(BRIDGE));
    command
        .env_clear()
        .arg("dlq")
        .args(args)
        .env("PULSAR_URL", &env.pulsar_url)
        .env("PULSAR_ADMIN_URL", &env.pulsar_admin_url)
        .env("PULSAR_NAMESPACE", &env.namespace)
        .stdin(Stdio::null());
    let what = format!("pulsar-bridge dlq {}", args.join(" "));
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = match tokio::time::timeout(Duration::from_secs(150), run).await {
        Ok(Ok(Ok(output))) => output,
        Ok(Ok(Err(error))) => env.fail(format!("{what}: {error}")),
        Ok(Err(error)) => env.fail(format!("{what}: {error}")),
        Err(_) => env.fail(format!("{what}: no answer within 150 s")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        env.fail(format!(
            "{what}: {}\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    stdout
}

/// Closes (`allow = false`: refuses connections and ends the sessions) or reopens the run's
/// reportes database, so generate-report and compensate-report answer 503.
pub async fn reportes_connections(env: &Env, admin: &mut PgConnection, allow: bool) {
    let reportes = env.database_name(Database::Reportes).to_owned();
    sqlx::query(AssertSqlSafe(format!(
        r#"ALTER DATABASE "{reportes}" WITH ALLOW_CONNECTIONS {allow}"#
    )))
    .execute(&mut *admin)
    .await
    .unwrap_or_else(|error| env.fail(format!("ALTER DATABASE {reportes}: {error}")));
    if !allow {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&reportes)
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|error| env.fail(format!("terminate the sessions: {error}")));
    }
}
