//! The gateway in-process in front of two small axum upstreams on loopback ports.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::Request,
    http::{HeaderMap, StatusCode},
    routing::any,
};
use local_gateway::{Config, app};
use tokio::net::TcpListener;

/// Serves `router` on a free loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// An upstream that echoes what it got: `<name> <method> <path?query> <x-test> <body>`.
fn echo(name: &'static str) -> Router {
    Router::new().fallback(any(
        move |headers: HeaderMap, request: Request| async move {
            let method = request.method().clone();
            let target = request.uri().to_string();
            let marker = headers
                .get("x-test")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            let body = axum::body::to_bytes(request.into_body(), 1024)
                .await
                .unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            (
                StatusCode::CREATED,
                [("x-upstream", name)],
                format!("{name} {method} {target} {marker} {body}"),
            )
        },
    ))
}

/// A loopback URL nothing listens on.
async fn closed_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

async fn gateway(routes: String) -> String {
    let config = Config::from_vars([
        ("GATEWAY_ROUTES".to_owned(), routes),
        ("GATEWAY_TIMEOUT_MS".to_owned(), "500".to_owned()),
    ])
    .unwrap();
    serve(app(config)).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn forwards_method_path_query_headers_and_body_round_robin() {
    let first = serve(echo("one")).await;
    let second = serve(echo("two")).await;
    let reports = serve(echo("reports")).await;
    let base = gateway(format!("/influencers={first},{second};/reportes={reports}")).await;
    let client = client();

    let mut seen = Vec::new();
    for _ in 0..4 {
        let answer = client
            .post(format!("{base}/influencers?dry=1"))
            .header("x-test", "marker")
            .body("{\"nombre\":\"Ana\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        let upstream = answer.headers()["x-upstream"].to_str().unwrap().to_owned();
        let body = answer.text().await.unwrap();
        assert_eq!(
            body,
            format!("{upstream} POST /influencers?dry=1 marker {{\"nombre\":\"Ana\"}}")
        );
        seen.push(upstream);
    }
    assert_eq!(seen, ["one", "two", "one", "two"], "round robin");

    let answer = client
        .get(format!("{base}/reportes/42?x=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.text().await.unwrap(),
        "reports GET /reportes/42?x=y - "
    );
}

#[tokio::test]
async fn answers_problems_for_unknown_paths_and_unreachable_upstreams() {
    let alive = serve(echo("alive")).await;
    let closed = closed_url().await;
    let slow = serve(Router::new().fallback(any(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Bytes::new()
    })))
    .await;
    let base = gateway(format!(
        "/campanas={closed};/contratos={closed},{alive};/reportes={slow}"
    ))
    .await;
    let client = client();

    for (path, status) in [
        ("/nothing-here", StatusCode::NOT_FOUND),
        ("/campanas", StatusCode::BAD_GATEWAY),
        ("/reportes", StatusCode::GATEWAY_TIMEOUT),
    ] {
        let answer = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), status, "{path}");
        assert_eq!(
            answer.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let problem: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(problem["status"], status.as_u16(), "{path}: {problem}");
    }

    // A refused connection moves on to the next upstream: every request is answered.
    for _ in 0..3 {
        let answer = client
            .get(format!("{base}/contratos"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
}

/// The existing system's routes: `/` and `/health` answered by the gateway as it did,
/// its command and listing paths forwarded to the functions serving the resource.
#[tokio::test]
async fn the_existing_systems_routes_are_served_or_forwarded() {
    let influencers = serve(echo("influencers")).await;
    let contracts = serve(echo("contracts")).await;
    let base = gateway(format!("/influencers={influencers};/contratos={contracts}")).await;
    let client = client();

    let root: serde_json::Value = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        root,
        serde_json::json!({"mensaje": "AlpesPartners DIJS - API", "version": "1.0.0", "estado": "activo"})
    );
    let health: serde_json::Value = client
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, serde_json::json!({"status": "up"}));

    for (method, path, upstream) in [
        ("POST", "/influencers/registrar-comando", "influencers"),
        ("GET", "/influencers/?plataforma=tiktok", "influencers"),
        ("POST", "/contratos/crear-comando", "contracts"),
        ("GET", "/contratos/vigentes", "contracts"),
    ] {
        let answer = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers()["x-upstream"], upstream, "{path}");
        let body = answer.text().await.unwrap();
        assert!(
            body.starts_with(&format!("{upstream} {method} {path}")),
            "{body}"
        );
    }
}

/// An upstream serving an OpenAPI document with the given paths (and one schema each).
fn documented(paths: &'static [&'static str], schema: &'static str) -> Router {
    Router::new().route(
        "/openapi.json",
        axum::routing::get(move || async move {
            let items: serde_json::Map<String, serde_json::Value> = paths
                .iter()
                .map(|path| {
                    (
                        (*path).to_owned(),
                        serde_json::json!({"get": {"responses": {"200": {"description": *path}}}}),
                    )
                })
                .collect();
            axum::Json(serde_json::json!({
                "openapi": "3.1.0",
                "info": {"title": schema, "version": "1"},
                "tags": [{"name": schema}],
                "paths": items,
                "components": {"schemas": {schema: {"type": "object"}, "Problem": {"title": schema}}},
            }))
        }),
    )
}

#[tokio::test]
async fn spec_merges_what_each_route_serves() {
    let influencers = serve(documented(
        &[
            "/",
            "/health",
            "/influencers",
            "/influencers/{id}",
            "/events",
        ],
        "Influencer",
    ))
    .await;
    let reports = serve(documented(
        &["/reportes", "/reportes/{id}", "/reportes/{id}/compensar"],
        "Report",
    ))
    .await;
    let compensations = serve(documented(
        &["/reportes/{id}/compensar", "/reportes"],
        "Compensation",
    ))
    .await;
    let base = gateway(format!(
        "/influencers={influencers};/reportes={reports};/reportes/*/compensar={compensations}"
    ))
    .await;
    let client = client();

    for route in ["/spec", "/openapi.json"] {
        let answer = client.get(format!("{base}{route}")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{route}");
        let document: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let paths = document["paths"].as_object().unwrap();
        let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
        listed.sort_unstable();
        assert_eq!(
            listed,
            [
                "/",
                "/health",
                "/influencers",
                "/influencers/{id}",
                "/reportes",
                "/reportes/{id}",
                "/reportes/{id}/compensar"
            ],
            "{route}"
        );
        // Each path as the function it is routed to describes it.
        let description =
            |path: &str| paths[path]["get"]["responses"]["200"]["description"].clone();
        assert_eq!(
            description("/reportes/{id}/compensar"),
            "/reportes/{id}/compensar"
        );
        assert_eq!(
            paths["/health"]["get"]["responses"]["200"]["content"]["application/json"]["example"]["status"],
            "up"
        );
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for name in ["Influencer", "Report", "Compensation", "Problem"] {
            assert!(schemas.contains_key(name), "{route}: {name}");
        }
        assert_eq!(document["tags"].as_array().unwrap().len(), 3);
    }

    // A function whose document cannot be read: 502 naming its route.
    let base = gateway(format!(
        "/influencers={influencers};/campanas={}",
        closed_url().await
    ))
    .await;
    let answer = client.get(format!("{base}/spec")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("/campanas"),
        "{problem}"
    );
}
