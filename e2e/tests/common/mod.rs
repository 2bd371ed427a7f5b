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
//!
//! The harness, by concern:
//! - [`settings`]: the processes' names, the route table, timeouts, default addresses;
//! - [`environment`]: [`Env`], the run's environment, and how it starts;
//! - [`processes`]: the binaries, starting the children, readiness, signals;
//! - [`postgres`], [`pulsar`], [`pubsub`]: the run's databases, namespace, emulator project;
//! - [`runs`]: runs taking turns ([`RunLock`]) and removing earlier runs' leftovers;
//! - [`teardown`]: what dropping the [`Env`] cleans up;
//! - [`failure`]: failing a test with the dead processes and where the logs are;
//! - [`http`](mod@http): the HTTP client and polling ([`eventually`]);
//! - [`steps`], [`flows`]: the flows' steps through the HTTP APIs, and whole flows;
//! - [`events`]: the contract's events, publishing them, reading a topic of the run;
//! - [`bridge`]: the bridge's settling, metrics, dead letters and `dlq` command;
//! - [`python`]: the Python side (its venv and running its programs).
//!
//! Every item is re-exported here: the tests name them `common::x`.

#![allow(dead_code)] // each test binary uses part of the harness

mod bridge;
mod environment;
mod events;
mod failure;
mod flows;
mod http;
mod postgres;
mod processes;
mod pubsub;
mod pulsar;
pub mod python;
mod runs;
mod settings;
mod steps;
mod teardown;

// Each test binary names part of the harness, so part of these re-exports goes unused.
#[allow(unused_imports)]
pub use self::{
    bridge::*, environment::*, events::*, failure::*, flows::*, http::*, postgres::*, processes::*,
    pubsub::*, pulsar::*, runs::*, settings::*, steps::*, teardown::*,
};
