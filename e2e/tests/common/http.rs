//! HTTP and polling: the client, JSON requests, and waiting for a state to be reached.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Env, FLOW_TIMEOUT, POLL_EVERY};

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
