//! Authentication of event pushes (SPEC section 6): an OIDC ID token signed by Google for
//! this service (Pub/Sub push subscriptions and the bridge on GCP), a static token (local
//! runs), or nothing at all (explicit opt-in, for the Pub/Sub emulator).

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use tokio::sync::RwLock;

use super::{config::PushAuthSettings, problem::ApiError};

/// Issuers of Google-signed ID tokens.
const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// Signing keys rotate about daily; re-read them at least this often.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// A token naming a key we do not have may mean a rotation: re-read, but not more often.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub enum PushAuth {
    Oidc(OidcVerifier),
    Static(String),
    Disabled,
}

impl PushAuth {
    pub fn new(settings: &PushAuthSettings, http: reqwest::Client) -> Self {
        match settings {
            PushAuthSettings::Oidc {
                audience,
                service_accounts,
                certs_url,
            } => Self::Oidc(OidcVerifier {
                audience: audience.clone(),
                service_accounts: service_accounts.clone(),
                certs_url: certs_url.clone(),
                http,
                keys: RwLock::new(None),
            }),
            PushAuthSettings::Static { token } => Self::Static(token.clone()),
            PushAuthSettings::Disabled => Self::Disabled,
        }
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
    http: reqwest::Client,
    keys: RwLock<Option<(JwkSet, Instant)>>,
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
        if self.service_accounts.is_empty() {
            return Ok(());
        }
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

    /// The key `kid`, from the cached key set, re-read when stale or when the key is
    /// unknown (at most every [`MIN_REFRESH_INTERVAL`]).
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, ApiError> {
        {
            let cached = self.keys.read().await;
            if let Some((keys, fetched)) = cached.as_ref() {
                let fresh = fetched.elapsed() < KEYS_TTL;
                if let Some(jwk) = keys.find(kid).filter(|_| fresh) {
                    return Ok(DecodingKey::from_jwk(jwk).ok());
                }
                if fresh && fetched.elapsed() < MIN_REFRESH_INTERVAL {
                    return Ok(None);
                }
            }
        }
        let mut cached = self.keys.write().await;
        let keys = self.fetch().await?;
        let key = keys
            .find(kid)
            .and_then(|jwk| DecodingKey::from_jwk(jwk).ok());
        *cached = Some((keys, Instant::now()));
        Ok(key)
    }

    async fn fetch(&self) -> Result<JwkSet, ApiError> {
        let unavailable = |error: reqwest::Error| {
            ApiError::Unavailable(format!("cannot read the token signing keys: {error}"))
        };
        self.http
            .get(&self.certs_url)
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
