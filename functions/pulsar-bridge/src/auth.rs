//! The `Authorization` header of each push: a configured static token, an OIDC ID token from
//! the GCP metadata server, or none.
//!
//! ID tokens come from `google-cloud-auth`'s metadata-server credentials
//! (`credentials::idtoken::mds`), one per audience: each fetches its token on first use and
//! refreshes it in the background four minutes before it expires, so a push waits for the
//! metadata server only for an audience's first token. What this module adds: a limit on
//! each wait, and starting an audience afresh after a failure (the crate's credentials keep
//! a permanent error for good, where the bridge should try again on its next push).

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use futures::FutureExt as _;
use google_cloud_auth::credentials::idtoken::{
    IDTokenCredentials,
    mds::{Builder, Format},
};

use crate::config::PushAuth;

/// Limit on one wait for a token from the metadata server.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no token could be had. It is the bridge's problem, not the function's, so it does not
/// count as a failed attempt.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("metadata server request failed: {0}")]
    Request(String),
    #[error("metadata server did not answer within {0:?}")]
    Timeout(Duration),
}

/// Produces `Authorization` header values for push audiences.
#[derive(Debug)]
pub struct TokenSource {
    mode: Mode,
}

/// Each audience's credentials.
type Credentials = HashMap<String, Arc<IDTokenCredentials>>;

#[derive(Debug)]
enum Mode {
    None,
    Static(String),
    Metadata {
        /// `http://<GCE_METADATA_HOST>`.
        endpoint: String,
        /// One set of credentials per audience. Concurrent pushes to an audience share its
        /// credentials, and so wait for one fetch instead of each asking the metadata server.
        credentials: Mutex<Credentials>,
    },
}

impl TokenSource {
    pub fn new(auth: &PushAuth) -> Result<Self, AuthError> {
        let mode = match auth {
            PushAuth::None => Mode::None,
            PushAuth::Static(token) => Mode::Static(format!("Bearer {}", token.0)),
            PushAuth::Metadata { host } => {
                let endpoint = format!("http://{host}");
                reqwest::Url::parse(&endpoint).map_err(|error| {
                    AuthError::Request(format!("bad metadata host {host:?}: {error}"))
                })?;
                Mode::Metadata {
                    endpoint,
                    credentials: Mutex::new(HashMap::new()),
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
            Mode::Metadata {
                endpoint,
                credentials,
            } => {
                let audience_credentials = {
                    let mut credentials = lock(credentials);
                    match credentials.get(audience) {
                        Some(known) => known.clone(),
                        None => {
                            let new = Arc::new(id_token_credentials(endpoint, audience)?);
                            credentials.insert(audience.to_owned(), new.clone());
                            new
                        }
                    }
                };
                // The crate's refresh task panics on a token without `exp` (the metadata
                // server always sets it), and the wait then panics too: an error here.
                let fetch = AssertUnwindSafe(audience_credentials.id_token()).catch_unwind();
                let token = match tokio::time::timeout(METADATA_TIMEOUT, fetch).await {
                    Ok(Ok(Ok(token))) => Ok(token),
                    Ok(Ok(Err(error))) => Err(AuthError::Request(error_chain(&error))),
                    Ok(Err(_panic)) => Err(AuthError::Request(
                        "unreadable token (a JWT with an `exp` claim is expected)".into(),
                    )),
                    Err(_) => Err(AuthError::Timeout(METADATA_TIMEOUT)),
                };
                match token {
                    Ok(token) => Ok(Some(format!("Bearer {token}"))),
                    Err(error) => {
                        // The next push asks the metadata server again, with new credentials.
                        forget(credentials, audience, &audience_credentials);
                        Err(error)
                    }
                }
            }
        }
    }
}

/// Credentials for ID tokens of `audience` (`format=full`: with the project and instance
/// details, as the bridge always asked for). The crate reads `GCE_METADATA_HOST` itself too,
/// and prefers it to `endpoint`; the bridge's configuration takes its host from the same
/// variable, so the two agree.
fn id_token_credentials(endpoint: &str, audience: &str) -> Result<IDTokenCredentials, AuthError> {
    Builder::new(audience)
        .with_endpoint(endpoint)
        .with_format(Format::Full)
        .build()
        .map_err(|error| AuthError::Request(error_chain(&error)))
}

fn lock(credentials: &Mutex<Credentials>) -> MutexGuard<'_, Credentials> {
    credentials.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops `failed` as the audience's credentials, unless another push already replaced them.
fn forget(credentials: &Mutex<Credentials>, audience: &str, failed: &Arc<IDTokenCredentials>) {
    let mut credentials = lock(credentials);
    if credentials
        .get(audience)
        .is_some_and(|current| Arc::ptr_eq(current, failed))
    {
        credentials.remove(audience);
    }
}

/// An error and its sources, on one line (the crate's message alone does not say what the
/// metadata server answered).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::{
        collections::BTreeMap,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use axum::{
        Router,
        extract::{Query, State},
        http::{HeaderMap, StatusCode},
        routing::get,
    };
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    #[tokio::test]
    async fn static_and_none_need_no_server() {
        let none = TokenSource::new(&PushAuth::None).unwrap();
        assert_eq!(none.authorization("https://a").await.unwrap(), None);
        let fixed =
            TokenSource::new(&PushAuth::Static(crate::config::Secret("t0k".into()))).unwrap();
        assert_eq!(
            fixed.authorization("https://a").await.unwrap().as_deref(),
            Some("Bearer t0k")
        );
    }

    /// A metadata server that refuses the first `failures` requests.
    #[derive(Default)]
    struct FakeMetadata {
        requests: Mutex<Vec<String>>,
        failures: AtomicUsize,
    }

    async fn identity(
        State(server): State<Arc<FakeMetadata>>,
        headers: HeaderMap,
        Query(query): Query<BTreeMap<String, String>>,
    ) -> (StatusCode, String) {
        let audience = query.get("audience").cloned().unwrap_or_default();
        server.requests.lock().unwrap().push(audience.clone());
        if headers.get("metadata-flavor").map(|v| v.as_bytes()) != Some(b"Google")
            || query.get("format").map(String::as_str) != Some("full")
        {
            return (
                StatusCode::BAD_REQUEST,
                "missing Metadata-Flavor or format".into(),
            );
        }
        if server
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
        {
            return (StatusCode::FORBIDDEN, "no service account".into());
        }
        let exp = chrono::Utc::now().timestamp() + 3600;
        let token = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(format!(r#"{{"aud":"{audience}","exp":{exp}}}"#))
        );
        (StatusCode::OK, token)
    }

    fn audience_of(header: &str) -> String {
        let token = header.strip_prefix("Bearer ").unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        claims["aud"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn metadata_tokens_are_cached_per_audience_and_fetched_again_after_a_failure() {
        let server = Arc::new(FakeMetadata {
            failures: AtomicUsize::new(1),
            ..FakeMetadata::default()
        });
        let app = Router::new()
            .route(
                "/computeMetadata/v1/instance/service-accounts/default/identity",
                get(identity),
            )
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let metadata = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let tokens = TokenSource::new(&PushAuth::Metadata { host }).unwrap();

        let error = tokens.authorization("https://a.example").await.unwrap_err();
        assert!(error.to_string().contains("403"), "{error}");
        for _ in 0..3 {
            let header = tokens
                .authorization("https://a.example")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(audience_of(&header), "https://a.example");
        }
        let header = tokens
            .authorization("https://b.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(audience_of(&header), "https://b.example");
        assert_eq!(
            *server.requests.lock().unwrap(),
            [
                "https://a.example",
                "https://a.example",
                "https://b.example"
            ],
            "one request after the failure, then the cache; one for the other audience"
        );
        metadata.abort();

        // Tokens the crate cannot read are errors, not panics.
        for body in ["opaque-token", "e30.eyJhdWQiOiJ4In0.sig"] {
            let unreadable = Router::new().route(
                "/computeMetadata/v1/instance/service-accounts/default/identity",
                get(move || async move { body }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let host = listener.local_addr().unwrap().to_string();
            let metadata =
                tokio::spawn(async move { axum::serve(listener, unreadable).await.unwrap() });
            let tokens = TokenSource::new(&PushAuth::Metadata { host }).unwrap();
            for _ in 0..2 {
                let error = tokens.authorization("https://a.example").await.unwrap_err();
                assert!(matches!(error, AuthError::Request(_)), "{body}: {error}");
            }
            metadata.abort();
        }

        let unreachable = TokenSource::new(&PushAuth::Metadata {
            host: "127.0.0.1:9".into(),
        })
        .unwrap();
        assert!(
            unreachable
                .authorization("https://a.example")
                .await
                .is_err()
        );
        assert!(
            TokenSource::new(&PushAuth::Metadata {
                host: "bad host".into()
            })
            .is_err()
        );
    }
}
