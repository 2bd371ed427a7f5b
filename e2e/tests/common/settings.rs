//! What the harness starts and how: the processes' names, the route table, the timeouts,
//! the dev services' default addresses, and the variables a test binary may add.

use std::{sync::Mutex, time::Duration};

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

/// Bridge variables of this test binary replacing the harness's (e.g. the retry policy a
/// test is about); set before the first [`env`](super::env) call.
pub static BRIDGE_SETTINGS: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

/// Variables of this test binary for every process it starts (functions and bridge), e.g.
/// where spans are exported; set before the first [`env`](super::env) call.
pub static PROCESS_SETTINGS: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}
