//! The bridge's deliveries, retries and dead letters (issue 13): waiting until it has
//! settled its subscriptions, its metrics, the dead-letter backlog and its `dlq` command.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use super::{BRIDGE, Env, binaries_dir, eventually};

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
