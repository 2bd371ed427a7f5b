//! Authentication of event pushes (SPEC section 6): an OIDC ID token signed by Google for
//! this service (Pub/Sub push subscriptions and the bridge on GCP), a static token (local
//! runs), or nothing at all (explicit opt-in, for the Pub/Sub emulator).

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::{config::PushAuthSettings, problem::ApiError};

/// Issuers of Google-signed ID tokens.
const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// Signing keys rotate about daily; re-read them at least this often.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// A token naming a key we do not have may mean a rotation: re-read, but never more than
/// once per this interval (whatever the burst of unknown `kid`s, and after a failure).
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub enum PushAuth {
    Oidc(Box<OidcVerifier>),
    Static(String),
    Disabled,
}

impl PushAuth {
    /// The authentication `settings` ask for. With OIDC, the HTTPS client that reads
    /// Google's keys is built with the first key fetch (the first push), not here: a cold
    /// start reads no CA files for a client the first request may never use.
    pub fn from_settings(settings: &PushAuthSettings) -> Self {
        Self::with_client(settings, OnceLock::new())
    }

    /// [`PushAuth::from_settings`], reading the keys with `http` (tests).
    pub fn new(settings: &PushAuthSettings, http: reqwest::Client) -> Self {
        Self::with_client(settings, OnceLock::from(http))
    }

    fn with_client(settings: &PushAuthSettings, http: OnceLock<reqwest::Client>) -> Self {
        match settings {
            PushAuthSettings::Oidc {
                audience,
                service_accounts,
                certs_url,
            } => Self::Oidc(Box::new(OidcVerifier {
                audience: audience.clone(),
                service_accounts: service_accounts.clone(),
                certs_url: certs_url.clone(),
                http,
                keys: RwLock::new(None),
                last_fetch: Mutex::new(None),
                keys_ttl: KEYS_TTL,
                min_refresh_interval: MIN_REFRESH_INTERVAL,
            })),
            PushAuthSettings::Static { token } => Self::Static(token.trim().to_owned()),
            PushAuthSettings::Disabled => {
                tracing::warn!(
                    "PUSH_AUTH=none: the event endpoint accepts pushes from anyone; only for \
                     the Pub/Sub emulator"
                );
                Self::Disabled
            }
        }
    }

    /// Other key-cache timings than Google's (tests): keys re-read after `keys_ttl`, and
    /// never more than once per `min_refresh_interval`.
    pub fn with_key_timing(mut self, keys_ttl: Duration, min_refresh_interval: Duration) -> Self {
        if let Self::Oidc(verifier) = &mut self {
            verifier.keys_ttl = keys_ttl;
            verifier.min_refresh_interval = min_refresh_interval;
        }
        self
    }

    /// Accepts the push or answers why not (a 401, or a 503 when Google's keys cannot be
    /// read: the pusher retries).
    pub async fn verify(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if matches!(self, Self::Disabled) {
            return Ok(());
        }
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
        match self {
            Self::Static(expected) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => {
                Ok(())
            }
            Self::Static(_) => Err(ApiError::Unauthorized("the token is not valid".into())),
            Self::Oidc(verifier) => verifier.verify(token).await,
            Self::Disabled => Ok(()),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct OidcVerifier {
    audience: String,
    service_accounts: Vec<String>,
    certs_url: String,
    /// Built on first use ([`PushAuth::from_settings`]).
    http: OnceLock<reqwest::Client>,
    /// The key set and when it was read.
    keys: RwLock<Option<(JwkSet, Instant)>>,
    /// When the keys were last fetched (or tried): held while a fetch is in flight, so
    /// there is only ever one.
    last_fetch: Mutex<Option<Instant>>,
    keys_ttl: Duration,
    min_refresh_interval: Duration,
}

/// What the cache says about one key.
struct Lookup {
    key: Option<DecodingKey>,
    /// The cache holds a key set (of any age).
    have_keys: bool,
    /// That key set is younger than the TTL.
    fresh: bool,
}

#[derive(Deserialize)]
struct Claims {
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

impl OidcVerifier {
    async fn verify(&self, token: &str) -> Result<(), ApiError> {
        let invalid =
            |why: String| ApiError::Unauthorized(format!("the token is not valid: {why}"));
        let header =
            jsonwebtoken::decode_header(token).map_err(|error| invalid(error.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid(format!("unexpected algorithm {:?}", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| invalid("no key id".into()))?;
        let key = self
            .key(&kid)
            .await?
            .ok_or_else(|| invalid(format!("unknown key {kid}")))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&GOOGLE_ISSUERS);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|error| invalid(error.to_string()))?
            .claims;
        // Fail closed: the configuration refuses an empty list, and so does this.
        match claims.email {
            Some(email) if claims.email_verified && self.service_accounts.contains(&email) => {
                Ok(())
            }
            Some(email) => Err(ApiError::Unauthorized(format!(
                "{email} may not push events here"
            ))),
            None => Err(invalid("no email claim".into())),
        }
    }

    async fn lookup(&self, kid: &str) -> Lookup {
        let cached = self.keys.read().await;
        match cached.as_ref() {
            Some((keys, fetched)) => Lookup {
                key: keys
                    .find(kid)
                    .and_then(|jwk| DecodingKey::from_jwk(jwk).ok()),
                have_keys: true,
                fresh: fetched.elapsed() < self.keys_ttl,
            },
            None => Lookup {
                key: None,
                have_keys: false,
                fresh: false,
            },
        }
    }

    /// The key `kid`. The cached key set answers while fresh; it is re-read when stale or
    /// when `kid` is unknown, by one fetch at a time (the others wait and then look
    /// again, or use the stale key they have), and never more than once per
    /// `min_refresh_interval`. While a refresh fails, stale keys keep working.
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, ApiError> {
        let found = self.lookup(kid).await;
        if found.fresh && found.key.is_some() {
            return Ok(found.key);
        }
        let mut last_fetch = match self.last_fetch.try_lock() {
            Ok(guard) => guard,
            // A refresh is in flight: a stale key is good enough meanwhile.
            Err(_) if found.key.is_some() => return Ok(found.key),
            Err(_) => self.last_fetch.lock().await,
        };
        // Re-check after the lock: the refresh we waited for may have brought the key.
        let found = self.lookup(kid).await;
        if found.fresh && found.key.is_some() {
            return Ok(found.key);
        }
        let recently = last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh_interval);
        if recently {
            return match found {
                Lookup { key: Some(key), .. } => Ok(Some(key)),
                Lookup {
                    have_keys: true, ..
                } => Ok(None),
                _ => Err(ApiError::Unavailable(
                    "the token signing keys could not be read; retry later".into(),
                )),
            };
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let key = keys
                    .find(kid)
                    .and_then(|jwk| DecodingKey::from_jwk(jwk).ok());
                *self.keys.write().await = Some((keys, Instant::now()));
                Ok(key)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot refresh the token signing keys");
                match found.key {
                    Some(stale) => Ok(Some(stale)),
                    None => Err(error),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, ApiError> {
        let unavailable = |error: reqwest::Error| {
            ApiError::Unavailable(format!("cannot read the token signing keys: {error}"))
        };
        let http = self.http.get_or_init(|| {
            super::tls::client_builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default()
        });
        http.get(&self.certs_url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json::<JwkSet>()
            .await
            .map_err(unavailable)
    }
}
