//! Each function's OpenAPI document against the function itself (issue #14, SPEC section 3):
//! schemathesis (`schemathesis` from PyPI, pinned in `e2e/python/requirements.txt`) reads
//! `GET /openapi.json` of every running function and sends it generated requests, valid and
//! invalid, NUL bytes included, with every check on (`--checks all`): no 5xx, every status,
//! header and body as documented, every schema-valid request accepted and every
//! schema-invalid one refused, the push endpoint refusing requests without its token.
//!
//! The functions run as processes against the real PostgreSQL and Pulsar (the harness in
//! `common`), with the static push token, which schemathesis sends as
//! `Authorization: Bearer`. Its configuration, `e2e/schemathesis.toml`, says why each
//! adjustment of a check is needed (docs/DECISIONS.md too); its hooks,
//! `e2e/python/schemathesis_hooks.py`, order the generated periods (`fecha_fin` after
//! `fecha_inicio`, the one rule spanning two fields that no schema can state) so that valid
//! data is valid. The five functions are tested at once.
//!
//! Two tiers: [`the_openapi_documents_describe_the_functions_exactly`] runs a bounded number
//! of examples per operation with a fixed seed (reproducible, in `make test-fast`);
//! [`slow_the_openapi_documents_hold_over_many_examples`] runs at least 500 per operation,
//! also with a fixed seed (which fixes the generated data; the stateful phase still follows
//! the ids the functions return, so a run can reach other cases);
//! `SCHEMATHESIS_SEED=<n>` explores another (what a new seed finds is fixed, or listed in
//! docs/DECISIONS.md as a known gap). Each function's output and JUnit report are kept in
//! `<log dir>/schemathesis-<function>/`.

mod common;

use std::{process::Command, time::Duration};

use common::{
    FUNCTIONS,
    python::{python_env, read, repo_root, run_bounded},
};

/// Examples per operation of the fast tier.
const FAST_EXAMPLES: u32 = 40;
/// Examples per operation of the slow tier.
const SLOW_EXAMPLES: u32 = 500;
/// The fast tier's seed: the same requests every run.
const FAST_SEED: u64 = 14;
/// The slow tier's seed unless `SCHEMATHESIS_SEED` names another.
const SLOW_SEED: u64 = 140_119_549;
/// Bound on one function's schemathesis run.
const FAST_TIMEOUT: Duration = Duration::from_secs(300);
const SLOW_TIMEOUT: Duration = Duration::from_secs(1200);

#[tokio::test]
async fn the_openapi_documents_describe_the_functions_exactly() {
    conformance(FAST_EXAMPLES, FAST_SEED, FAST_TIMEOUT).await;
}

#[tokio::test]
async fn slow_the_openapi_documents_hold_over_many_examples() {
    let seed = std::env::var("SCHEMATHESIS_SEED")
        .ok()
        .and_then(|seed| seed.trim().parse().ok())
        .unwrap_or(SLOW_SEED);
    conformance(SLOW_EXAMPLES, seed, SLOW_TIMEOUT).await;
}

/// Runs schemathesis against every function, the five runs at once (each is mostly waiting
/// on its function's answers, so together they take about as long as the longest), and fails
/// naming each function it found failures in.
async fn conformance(examples: u32, seed: u64, timeout: Duration) {
    let python = python_env().await;
    let st = python.with_file_name("st");
    assert!(st.is_file(), "{} is missing", st.display());
    let env = common::env().await;
    let _hint = env.log_hint();
    let config = repo_root().join("e2e/schemathesis.toml");
    let hooks = repo_root().join("e2e/python/schemathesis_hooks.py");

    let started = std::time::Instant::now();
    let runs = FUNCTIONS.iter().map(|(function, _)| {
        let base = env.url(function, "");
        let out = env.log_dir.join(format!("schemathesis-{function}"));
        std::fs::create_dir_all(&out)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", out.display()));
        let log = out.join("output.log");
        let mut command = Command::new(&st);
        command
            // Its hypothesis database and any other file go to the log directory.
            .current_dir(&out)
            .env("PYTHONUNBUFFERED", "1")
            // `fecha_fin` after `fecha_inicio`: the one rule no schema can state.
            .env("SCHEMATHESIS_HOOKS", &hooks)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(format!("{base}/openapi.json"))
            .args(["--url", &base])
            .args(["--checks", "all"])
            .args(["--max-examples", &examples.to_string()])
            .args(["--seed", &seed.to_string()])
            .args(["--generation-allow-x00", "true"])
            .args(["--generation-database", "none"])
            .args(["--workers", "1"])
            .args(["--request-timeout", "10"])
            .args(["--wait-for-schema", "30"])
            .args(["-H", &format!("Authorization: Bearer {}", env.push_token)])
            .args(["--report", "junit", "--report-dir"])
            .arg(&out)
            .arg("--no-color");
        async move {
            let begun = std::time::Instant::now();
            let outcome = run_bounded(command, &log, &log, timeout).await;
            eprintln!(
                "schemathesis on {function} ({examples} examples per operation, seed {seed}): \
                 {:.1} s, output in {}",
                begun.elapsed().as_secs_f64(),
                log.display()
            );
            (function, outcome, log)
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    eprintln!(
        "schemathesis on the five functions: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut failed = Vec::new();
    for (function, outcome, log) in outcomes {
        match outcome {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("{}", read(&log));
                failed.push(format!("{function} ({status})"));
            }
            Err(error) => {
                eprintln!("{}", read(&log));
                failed.push(format!("{function}: {error}"));
            }
        }
    }
    if !failed.is_empty() {
        env.fail(format!(
            "schemathesis (seed {seed}; SCHEMATHESIS_SEED={seed} replays the slow tier) found \
             failures in: {}",
            failed.join(", ")
        ));
    }
}
