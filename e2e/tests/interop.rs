//! Interop with the existing producers and consumers (issue #6 item 5, SPEC section 5): the
//! official Python Pulsar client (`pulsar-client` from PyPI, its `AvroSchema` records defined
//! as in the contract) against the functions and the bridge running as processes.
//!
//! `e2e/python/interop.py` checks its records against the contract (the `.avsc` schemas and
//! the golden vectors), publishes `EventoCrearInfluencer`, `EventoCampanaCreada` and
//! `EventoContratoCreado` with no message properties as the existing tools do, waits for the
//! flows to complete through the functions' GET endpoints, and reads our `CampanaCreada` and
//! `ReporteCreado` / `ReporteActualizado` back with `AvroSchema` consumers (the broker's schema
//! registry for real). This test prepares its Python environment (`scripts/python-env.sh`, a
//! venv in `.local/venv` with the pinned client), registers the contract's schemas on the run's
//! namespace as a deployment has them, runs the script against the run's environment (its
//! topics in the run's `PULSAR_NAMESPACE`) and asserts it exits 0 and that no schema version was
//! added. The script's output is kept in `<log dir>/interop.log`.

mod common;

use std::{process::Command, time::Duration};

use alpes_shared::events::Topic;
use common::{
    CREATE_CAMPAIGN, Env, GENERATE_REPORT, REGISTER_INFLUENCER, SEND_CONTRACT,
    python::{python_env, read, repo_root, run_bounded},
};
use serde_json::{Value, json};

/// Bound on the whole Python run; each of its waits is bounded by `INTEROP_TIMEOUT`.
const INTEROP_TIMEOUT: Duration = Duration::from_secs(300);
/// What `interop.py` allows each flow step and the event read (seconds).
const STEP_TIMEOUT_SECS: &str = "60";

/// Registers the contract's schema on every topic of the run's namespace, as a deployment
/// finds them (the existing producers registered them long ago), with the text the official
/// Python client registers.
///
/// A fresh topic has none until its first producer: its only consumers are then the bridge's,
/// which read raw bytes, and the broker refuses an AVRO consumer on such an active topic
/// ("Failed to add schema to an active topic with empty(BYTES) schema"), so the Python
/// consumers could not subscribe before anything is published.
async fn register_schemas(env: &Env) {
    let client = common::http();
    for topic in Topic::ALL {
        let url = format!(
            "{}/admin/v2/schemas/{}/{}/schema",
            env.pulsar_admin_url,
            env.namespace,
            topic.name()
        );
        let body =
            json!({"type": "AVRO", "schema": topic.registry_schema_json(), "properties": {}});
        match client.post(&url).json(&body).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                env.fail(format!("POST {url}: {status} {text}"));
            }
            Err(error) => env.fail(format!("POST {url}: {error}")),
        }
    }
}

/// The schema versions of each topic of the run's namespace that has any.
async fn schema_versions(env: &Env) -> Vec<(String, Vec<Value>)> {
    let client = common::http();
    let mut versions = Vec::new();
    for topic in Topic::ALL {
        let url = format!(
            "{}/admin/v2/schemas/{}/{}/schemas",
            env.pulsar_admin_url,
            env.namespace,
            topic.name()
        );
        let answer = match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => response.json::<Value>().await,
            Ok(response) => env.fail(format!("GET {url}: {}", response.status())),
            Err(error) => env.fail(format!("GET {url}: {error}")),
        };
        let answer = answer.unwrap_or_else(|error| env.fail(format!("GET {url}: {error}")));
        let found = answer["getSchemaResponses"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|schema| json!({"version": schema["version"], "type": schema["type"]}))
            .collect();
        versions.push((topic.name().to_owned(), found));
    }
    versions
}

/// The official Python client publishes the existing tools' events and reads ours: the flows
/// complete (the influencer's welcome saga, the published campaign's contract and report, the
/// unknown campaign's contract report) and our events decode with its `AvroSchema` records.
#[tokio::test]
async fn the_official_python_client_interoperates() {
    let python = python_env().await;
    let env = common::env().await;
    let _hint = env.log_hint();

    register_schemas(&env).await;

    let log = env.log_dir.join("interop.log");
    let script = repo_root().join("e2e/python/interop.py");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .current_dir(repo_root())
        .env("PYTHONUNBUFFERED", "1")
        .env("PULSAR_URL", &env.pulsar_url)
        .env("PULSAR_NAMESPACE", &env.namespace)
        .env("REGISTER_INFLUENCER_URL", env.url(REGISTER_INFLUENCER, ""))
        .env("CREATE_CAMPAIGN_URL", env.url(CREATE_CAMPAIGN, ""))
        .env("SEND_CONTRACT_URL", env.url(SEND_CONTRACT, ""))
        .env("GENERATE_REPORT_URL", env.url(GENERATE_REPORT, ""))
        .env("RUN_ID", &env.run)
        .env("INTEROP_TIMEOUT", STEP_TIMEOUT_SECS);
    let outcome = run_bounded(command, &log, &log, INTEROP_TIMEOUT).await;
    let output = read(&log);
    match outcome {
        Ok(status) if status.success() => println!("{}", output.trim_end()),
        Ok(status) => env.fail(format!(
            "{} exited with {status}; its output ({}):\n{}",
            script.display(),
            log.display(),
            output.trim_end()
        )),
        Err(error) => env.fail(format!(
            "{error}; its output ({}):\n{}",
            log.display(),
            output.trim_end()
        )),
    }

    // The Python client and the functions produced and consumed with the one registered
    // version: the same schema text, no new version.
    let added: Vec<String> = schema_versions(&env)
        .await
        .into_iter()
        .filter(|(_, versions)| versions.len() != 1)
        .map(|(topic, versions)| format!("{topic}: {versions:?}"))
        .collect();
    if !added.is_empty() {
        env.fail(format!(
            "schema versions were added to the registered ones: {}",
            added.join(", ")
        ));
    }
}
