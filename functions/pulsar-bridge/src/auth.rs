//! The `Authorization` header of each push: a configured static token, an OIDC ID token from
//! the GCP metadata server (cached per audience until shortly before it expires), or none.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use reqwest::{StatusCode, Url};
use tokio::sync::Mutex;

use crate::config::PushAuth;

/// Limit on one metadata-server request.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// A token is replaced this long before it expires (less for short-lived tokens).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// How long a token is used when its `exp` cannot be read.
const UNKNOWN_EXPIRY_TTL: Duration = Duration::from_secs(300);

/// Why no token could be had. It is the bridge's problem, not the function's, so it does not
/// count as a failed attempt.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("metadata server request failed: {0}")]
    Request(String),
    #[error("metadata server answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("metadata server returned an empty token")]
    Empty,
}

#[derive(Debug, Clone)]
struct CachedToken {
    header: String,
    /// Seconds since the epoch after which the token is fetched again.
    refresh_at: u64,
}

/// Produces `Authorization` header values for push audiences.
#[derive(Debug)]
pub struct TokenSource {
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    None,
    Static(String),
    Metadata {
        http: reqwest::Client,
        base: Url,
        /// One lock for all audiences: a fetch happens about once an hour per audience, and
        /// concurrent pushes wait for it instead of each asking the metadata server.
        cache: Mutex<HashMap<String, CachedToken>>,
    },
}

impl TokenSource {
    pub fn new(auth: &PushAuth, http: reqwest::Client) -> Result<Self, AuthError> {
        let mode = match auth {
            PushAuth::None => Mode::None,
            PushAuth::Static(token) => Mode::Static(format!("Bearer {}", token.0)),
            PushAuth::Metadata { host } => {
                let base = Url::parse(&format!(
                    "http://{host}/computeMetadata/v1/instance/service-accounts/default/identity"
                ))
                .map_err(|error| {
                    AuthError::Request(format!("bad metadata host {host:?}: {error}"))
                })?;
                Mode::Metadata {
                    http,
                    base,
                    cache: Mutex::new(HashMap::new()),
                }
            }
        };
        Ok(Self { mode })
    }

    /// The header value for a push to `audience`, or `None` when pushes carry no token.
    pub async fn authorization(&self, audience: &str) -> Result<Option<String>, AuthError> {
        match &self.mode {
            Mode::None => Ok(None),
            Mode::Static(header) => Ok(Some(header.clone())),
            Mode::Metadata { http, base, cache } => {
                let mut cache = cache.lock().await;
                let now = unix_now();
                if let Some(cached) = cache.get(audience)
                    && now < cached.refresh_at
                {
                    return Ok(Some(cached.header.clone()));
                }
                let token = fetch_identity_token(http, base, audience).await?;
                let refresh_at = refresh_time(&token, now);
                let header = format!("Bearer {token}");
                cache.insert(
                    audience.to_owned(),
                    CachedToken {
                        header: header.clone(),
                        refresh_at,
                    },
                );
                Ok(Some(header))
            }
        }
    }
}

async fn fetch_identity_token(
    http: &reqwest::Client,
    base: &Url,
    audience: &str,
) -> Result<String, AuthError> {
    let mut url = base.clone();
    url.query_pairs_mut()
        .append_pair("audience", audience)
        .append_pair("format", "full");
    let response = http
        .get(url)
        .header("Metadata-Flavor", "Google")
        .timeout(METADATA_TIMEOUT)
        .send()
        .await
        .map_err(|error| AuthError::Request(error.to_string()))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|error| AuthError::Request(error.to_string()))?;
    if !status.is_success() {
        let body = body.chars().take(200).collect();
        return Err(AuthError::Status { status, body });
    }
    let token = body.trim().to_owned();
    if token.is_empty() {
        return Err(AuthError::Empty);
    }
    Ok(token)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// When to fetch a new token: before `exp` by five minutes, or by half the remaining lifetime
/// for tokens that live less than ten minutes.
fn refresh_time(token: &str, now: u64) -> u64 {
    match jwt_expiry(token) {
        Some(exp) if exp > now => {
            let remaining = exp - now;
            exp - REFRESH_MARGIN.as_secs().min(remaining / 2)
        }
        Some(_) => now,
        None => now + UNKNOWN_EXPIRY_TTL.as_secs(),
    }
}

/// The `exp` claim (seconds since the epoch) of a JWT, read without verifying the signature:
/// the bridge only needs to know when to fetch a fresh token.
pub fn jwt_expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.signature",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_exp_without_verifying() {
        assert_eq!(
            jwt_expiry(&jwt(r#"{"aud":"x","exp":1700000000}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(jwt_expiry(&jwt(r#"{"aud":"x"}"#)), None);
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
    }

    #[test]
    fn refreshes_before_expiry() {
        let now = 1_000_000;
        assert_eq!(
            refresh_time(&jwt(&format!(r#"{{"exp":{}}}"#, now + 3600)), now),
            now + 3300
        );
        assert_eq!(
            refresh_time(&jwt(&format!(r#"{{"exp":{}}}"#, now + 60)), now),
            now + 30
        );
        assert_eq!(refresh_time(&jwt(r#"{"exp":5}"#), now), now);
        assert_eq!(refresh_time("opaque", now), now + 300);
    }

    #[tokio::test]
    async fn static_and_none_need_no_server() {
        let http = reqwest::Client::new();
        let none = TokenSource::new(&PushAuth::None, http.clone()).unwrap();
        assert_eq!(none.authorization("https://a").await.unwrap(), None);
        let fixed =
            TokenSource::new(&PushAuth::Static(crate::config::Secret("t0k".into())), http).unwrap();
        assert_eq!(
            fixed.authorization("https://a").await.unwrap().as_deref(),
            Some("Bearer t0k")
        );
    }
}
