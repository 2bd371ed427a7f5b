//! The run's environment, [`Env`]: what one test run starts (databases, processes, a
//! Pulsar namespace or emulator resources), shared by the tests of one test binary.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Child,
    sync::{Arc, Mutex, Weak},
    time::{SystemTime, UNIX_EPOCH},
};

use uuid::Uuid;

use super::{
    DEFAULT_DATABASE_URL, DEFAULT_PUBSUB_HOST, DEFAULT_PULSAR_ADMIN_URL, DEFAULT_PULSAR_URL,
    FUNCTIONS, RunLock, TEARDOWN_TIMEOUT, Topology, binaries_dir, stale_processes, var_or,
};

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

    pub fn url(&self, function: &str, path: &str) -> String {
        format!("{}{path}", self.urls[function])
    }
}
