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
