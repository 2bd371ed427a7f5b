//! OIDC push authentication against a key set served over real HTTP, with tokens signed
//! by a test RSA key (Google's own keys stand in only on GCP): valid, wrong audience,
//! expired, wrong issuer, foreign service account, unknown key, missing token.

use std::time::{SystemTime, UNIX_EPOCH};

use alpes_shared::http::{PushAuth, PushAuthSettings};
use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    routing::get,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const KEY: &[u8] = include_bytes!("data/oidc-test-key.der");
const JWKS: &str = include_str!("data/oidc-test-jwks.json");
const AUDIENCE: &str = "https://generate-report-abc.a.run.app";
const BRIDGE: &str = "pulsar-bridge@alpes.iam.gserviceaccount.com";

async fn serve_keys() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/certs",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], JWKS) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/certs")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(KEY)).unwrap()
}

fn claims(audience: &str, email: &str, expires_in: i64) -> serde_json::Value {
    json!({
        "iss": "https://accounts.google.com",
        "aud": audience,
        "sub": "1234567890",
        "email": email,
        "email_verified": true,
        "iat": now(),
        "exp": (now() as i64 + expires_in),
    })
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    headers
}

#[tokio::test]
async fn only_google_signed_tokens_for_this_service_from_the_bridge_pass() {
    let auth = PushAuth::new(
        &PushAuthSettings::Oidc {
            audience: AUDIENCE.to_owned(),
            service_accounts: vec![BRIDGE.to_owned()],
            certs_url: serve_keys().await,
        },
        reqwest::Client::new(),
    );

    let valid = token("test-key-1", claims(AUDIENCE, BRIDGE, 600));
    auth.verify(&bearer(&valid))
        .await
        .expect("a valid token passes");

    let mut wrong_issuer = claims(AUDIENCE, BRIDGE, 600);
    wrong_issuer["iss"] = json!("https://evil.example.com");
    let refused = [
        ("no token", HeaderMap::new()),
        ("not a JWT", bearer("garbage")),
        (
            "another audience",
            bearer(&token(
                "test-key-1",
                claims("https://other.a.run.app", BRIDGE, 600),
            )),
        ),
        (
            "expired",
            bearer(&token("test-key-1", claims(AUDIENCE, BRIDGE, -600))),
        ),
        ("another issuer", bearer(&token("test-key-1", wrong_issuer))),
        (
            "another account",
            bearer(&token(
                "test-key-1",
                claims(AUDIENCE, "intruder@x.iam.gserviceaccount.com", 600),
            )),
        ),
        (
            "an unknown key",
            bearer(&token("rotated-away", claims(AUDIENCE, BRIDGE, 600))),
        ),
    ];
    for (case, headers) in refused {
        let error = auth.verify(&headers).await.expect_err(case);
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{case}: {error}");
    }
}

#[tokio::test]
async fn unreadable_keys_mean_retry_later_not_unauthorized() {
    let auth = PushAuth::new(
        &PushAuthSettings::Oidc {
            audience: AUDIENCE.to_owned(),
            service_accounts: vec![],
            certs_url: "http://127.0.0.1:9/certs".to_owned(),
        },
        reqwest::Client::new(),
    );
    let error = auth
        .verify(&bearer(&token("test-key-1", claims(AUDIENCE, BRIDGE, 600))))
        .await
        .unwrap_err();
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn static_and_disabled_modes() {
    let auth = PushAuth::new(
        &PushAuthSettings::Static {
            token: "local-secret".to_owned(),
        },
        reqwest::Client::new(),
    );
    auth.verify(&bearer("local-secret")).await.unwrap();
    assert!(auth.verify(&bearer("local-secreT")).await.is_err());
    assert!(auth.verify(&HeaderMap::new()).await.is_err());
    let open = PushAuth::new(&PushAuthSettings::Disabled, reqwest::Client::new());
    open.verify(&HeaderMap::new()).await.unwrap();
}

/// A key server that counts its fetches and can be made to fail.
struct KeyServer {
    url: String,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl KeyServer {
    async fn start() -> Self {
        use std::sync::{
            Arc,
            atomic::{AtomicBool, AtomicUsize, Ordering},
        };
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let (count, fail) = (fetches.clone(), failing.clone());
        let app = Router::new().route(
            "/certs",
            get(move || {
                let (count, fail) = (count.clone(), fail.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    // Slow enough that a burst overlaps one fetch in flight.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    if fail.load(Ordering::SeqCst) {
                        return Err(StatusCode::SERVICE_UNAVAILABLE);
                    }
                    Ok(([(header::CONTENT_TYPE, "application/json")], JWKS))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/certs"),
            fetches,
            failing,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    fn auth(&self, ttl: std::time::Duration, interval: std::time::Duration) -> PushAuth {
        PushAuth::new(
            &PushAuthSettings::Oidc {
                audience: AUDIENCE.to_owned(),
                service_accounts: vec![BRIDGE.to_owned()],
                certs_url: self.url.clone(),
            },
            reqwest::Client::new(),
        )
        .with_key_timing(ttl, interval)
    }
}

async fn burst(auth: &PushAuth, tokens: Vec<String>) -> Vec<StatusCode> {
    let checks = tokens.iter().map(|token| async move {
        match auth.verify(&bearer(token)).await {
            Ok(()) => StatusCode::OK,
            Err(error) => error.status(),
        }
    });
    futures::future::join_all(checks).await
}

/// One refresh in flight, the others re-check after it; a burst of unknown `kid`s
/// fetches at most once per interval.
#[tokio::test]
async fn the_key_cache_fetches_once_per_burst_and_once_per_interval() {
    use std::time::Duration;
    let keys = KeyServer::start().await;
    let auth = keys.auth(Duration::from_secs(3600), Duration::from_secs(3600));

    let valid = token("test-key-1", claims(AUDIENCE, BRIDGE, 600));
    let answers = burst(&auth, vec![valid.clone(); 20]).await;
    assert!(
        answers.iter().all(|status| *status == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(keys.fetches(), 1, "a cold burst fetches the keys once");

    let unknown: Vec<String> = (0..50)
        .map(|n| token(&format!("rotated-{n}"), claims(AUDIENCE, BRIDGE, 600)))
        .collect();
    let answers = burst(&auth, unknown.clone()).await;
    assert!(
        answers
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    let answers = burst(&auth, unknown).await;
    assert!(
        answers
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        keys.fetches(),
        1,
        "unknown kids within the interval of the last fetch fetch nothing"
    );
    // Valid pushes are not held up meanwhile.
    auth.verify(&bearer(&valid)).await.unwrap();

    // After the interval, a burst of unknown kids refreshes once (a rotation), not 50 times.
    let auth = keys.auth(Duration::from_secs(3600), Duration::from_millis(300));
    auth.verify(&bearer(&valid)).await.unwrap();
    assert_eq!(keys.fetches(), 2);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let unknown: Vec<String> = (0..50)
        .map(|n| token(&format!("new-{n}"), claims(AUDIENCE, BRIDGE, 600)))
        .collect();
    burst(&auth, unknown).await;
    assert_eq!(keys.fetches(), 3, "one refresh for the whole burst");
}

/// Past the TTL, a refresh that fails leaves the stale keys in use (no 503 storm), and
/// is not retried more than once per interval.
#[tokio::test]
async fn stale_keys_keep_working_while_a_refresh_fails() {
    use std::time::Duration;
    let keys = KeyServer::start().await;
    let auth = keys.auth(Duration::from_millis(200), Duration::from_millis(200));
    let valid = token("test-key-1", claims(AUDIENCE, BRIDGE, 600));
    auth.verify(&bearer(&valid)).await.unwrap();
    assert_eq!(keys.fetches(), 1);

    keys.fail(true);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let answers = burst(&auth, vec![valid.clone(); 20]).await;
    assert!(
        answers.iter().all(|status| *status == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(keys.fetches(), 2, "one failed refresh for the burst");
    auth.verify(&bearer(&valid)).await.unwrap();
    assert_eq!(keys.fetches(), 2, "no second try within the interval");

    keys.fail(false);
    tokio::time::sleep(Duration::from_millis(250)).await;
    auth.verify(&bearer(&valid)).await.unwrap();
    assert_eq!(keys.fetches(), 3, "refreshed once the interval passed");

    // Without any keys and the server failing: retry later (503), not 401.
    keys.fail(true);
    let cold = keys.auth(Duration::from_secs(3600), Duration::from_secs(3600));
    let answers = burst(&cold, vec![valid.clone(); 10]).await;
    assert!(
        answers
            .iter()
            .all(|status| *status == StatusCode::SERVICE_UNAVAILABLE),
        "{answers:?}"
    );
    assert_eq!(keys.fetches(), 4, "one failed fetch for the cold burst");
}
