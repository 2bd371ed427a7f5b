//! The run's children: where their binaries are, starting the functions and the bridge
//! with their settings, waiting until they are ready, and signalling them.

use std::{
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::PoisonError,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{
    BRIDGE, BRIDGE_SETTINGS, COMPENSATE_REPORT, CREATE_CAMPAIGN, Database, Env, FUNCTIONS,
    GENERATE_REPORT, POLL_EVERY, PROCESS_SETTINGS, READY_TIMEOUT, REGISTER_INFLUENCER, ROUTES,
    RUN_MARKER, SEND_CONTRACT, Topology, http,
};

impl Env {
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
        let settings = PROCESS_SETTINGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let child = Command::new(&path)
            .env_clear()
            .env("PORT", port.to_string())
            .env("RUST_BACKTRACE", "1")
            .env(RUN_MARKER, &self.run)
            .envs(settings.iter().map(|(name, value)| (name, value)))
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
                ("PUSH_AUTH_ALLOW_NONE", "true".to_owned()),
            ]),
        }
        self.spawn(binaries, name, &vars);
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
