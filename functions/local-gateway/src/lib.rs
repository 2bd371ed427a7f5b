//! A small reverse proxy for local runs (`make local`, docker compose): one address that
//! routes each resource to the function serving it, as the HTTPS load balancer does on GCP.
//!
//! - A route is a path pattern and one or more upstream base URLs. The pattern matches a
//!   request whose path starts with the pattern's segments (`*` matches any one segment);
//!   the pattern with the most segments wins, so `/reportes/*/compensar` beats `/reportes`.
//! - Several upstreams are taken in turn (round robin); one refusing connections is skipped.
//! - Method, path, query, headers (minus hop-by-hop ones) and body are forwarded; the
//!   answer comes back as is. Without a route: 404, upstream down: 502, no answer within
//!   the timeout: 504, all as `application/problem+json`.
//! - `GET /health` is the gateway's own liveness (`{"status": "up"}`) and `GET /` the
//!   existing system's banner; the existing system's other routes
//!   (`/influencers/registrar-comando`, `/contratos/vigentes`, ...) are under the
//!   resources' patterns and reach their functions like any other path.
//! - `GET /spec` (the existing system's) and `GET /openapi.json` are one OpenAPI document of
//!   what the gateway serves, merged on each call from the functions' own documents: for
//!   each route, the paths of its function's `/openapi.json` that the table sends to it,
//!   with their components, plus the gateway's `/` and `/health`. 502 naming the route when
//!   a function's document cannot be read.
//!
//! Configuration ([`Config::from_env`]): `GATEWAY_ROUTES` =
//! `/influencers=http://127.0.0.1:3001,http://127.0.0.1:3011;/campanas=http://127.0.0.1:3002`,
//! or else the default table from the functions' URL variables (the bridge's names);
//! `GATEWAY_PORT` (else `PORT`, else 8000); `GATEWAY_TIMEOUT_MS` (30000).

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

pub use alpes_shared::config::ConfigError;
use alpes_shared::config::{FunctionUrls, millis_or, parse_or};
use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

/// The default table: pattern and the variable holding its upstream URL(s).
pub const DEFAULT_ROUTES: [(&str, &str); 5] = [
    ("/influencers", "REGISTER_INFLUENCER_URL"),
    ("/campanas", "CREATE_CAMPAIGN_URL"),
    ("/contratos", "SEND_CONTRACT_URL"),
    ("/reportes", "GENERATE_REPORT_URL"),
    ("/reportes/*/compensar", "COMPENSATE_REPORT_URL"),
];

/// `GATEWAY_PORT` (else `PORT`) unless set.
const DEFAULT_PORT: u16 = 8000;

/// Bound on a forwarded request body (the functions refuse far smaller ones).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Headers that describe one connection, not the message (RFC 9110 section 7.6.1), and
/// `host`, which the client sets from the upstream URL.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// One path pattern and the upstreams serving it.
#[derive(Debug)]
pub struct Route {
    pattern: String,
    segments: Vec<String>,
    upstreams: Vec<String>,
    next: AtomicUsize,
}

impl Route {
    /// `pattern` starts with `/`; each upstream is an `http(s)://` base URL.
    pub fn new(pattern: &str, upstreams: &[&str]) -> Result<Self, String> {
        if !pattern.starts_with('/') {
            return Err(format!("pattern {pattern:?} does not start with /"));
        }
        let upstreams: Vec<String> = upstreams
            .iter()
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .collect();
        if upstreams.is_empty() {
            return Err(format!("{pattern}: no upstream URL"));
        }
        if let Some(bad) = upstreams
            .iter()
            .find(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(format!("{pattern}: {bad:?} is not an http(s) URL"));
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            segments: segments(pattern).map(str::to_owned).collect(),
            upstreams,
            next: AtomicUsize::new(0),
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn upstreams(&self) -> &[String] {
        &self.upstreams
    }

    fn matches(&self, path: &str) -> bool {
        let mut path = segments(path);
        self.segments.iter().all(|wanted| {
            path.next()
                .is_some_and(|got| wanted == "*" || wanted == got)
        })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// Everything the gateway reads from its environment.
#[derive(Debug)]
pub struct Config {
    pub port: u16,
    pub timeout: Duration,
    pub routes: Vec<Route>,
}

/// The gateway's variables as set (see [`alpes_shared::config`]).
#[derive(Deserialize)]
struct GatewayVars {
    gateway_port: Option<String>,
    port: Option<String>,
    gateway_timeout_ms: Option<String>,
    gateway_routes: Option<String>,
    #[serde(flatten)]
    function_urls: FunctionUrls,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(alpes_shared::config::process_env())
    }

    /// Reads the given variables; empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: GatewayVars = alpes_shared::config::read(vars)?;
        let port = match &vars.gateway_port {
            Some(_) => parse_or("GATEWAY_PORT", &vars.gateway_port, DEFAULT_PORT)?,
            None => parse_or("PORT", &vars.port, DEFAULT_PORT)?,
        };
        let timeout = millis_or("GATEWAY_TIMEOUT_MS", &vars.gateway_timeout_ms, 30_000)?;
        let routes = match &vars.gateway_routes {
            Some(table) => parse_routes(table)
                .map_err(|problem| ConfigError::new("GATEWAY_ROUTES", problem))?,
            None => DEFAULT_ROUTES
                .iter()
                .filter_map(|(pattern, variable)| {
                    vars.function_urls.get(variable).map(|urls| {
                        let urls: Vec<&str> = urls.split(',').collect();
                        Route::new(pattern, &urls)
                            .map_err(|problem| ConfigError::new(*variable, problem))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        if routes.is_empty() {
            let variables: Vec<&str> = DEFAULT_ROUTES.iter().map(|(_, name)| *name).collect();
            return Err(ConfigError::new(
                "GATEWAY_ROUTES",
                format!("no route: set it or one of {}", variables.join(", ")),
            ));
        }
        Ok(Self {
            port,
            timeout,
            routes,
        })
    }
}

/// `pattern=url[,url...][;pattern=url...]`
fn parse_routes(table: &str) -> Result<Vec<Route>, String> {
    table
        .split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (pattern, urls) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not pattern=url[,url...]"))?;
            let urls: Vec<&str> = urls.split(',').collect();
            Route::new(pattern.trim(), &urls)
        })
        .collect()
}

struct Gateway {
    routes: Vec<Route>,
    client: reqwest::Client,
    timeout: Duration,
}

impl Gateway {
    fn route(&self, path: &str) -> Option<&Route> {
        // The most specific pattern wins; among equals, the first listed.
        let mut best: Option<&Route> = None;
        for route in self.routes.iter().filter(|route| route.matches(path)) {
            if best.is_none_or(|best| route.segments.len() > best.segments.len()) {
                best = Some(route);
            }
        }
        best
    }
}

/// The gateway's router (tests serve it on a loopback port).
pub fn app(config: Config) -> Router {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client without TLS configuration to build");
    let gateway = Arc::new(Gateway {
        routes: config.routes,
        client,
        timeout: config.timeout,
    });
    Router::new()
        // The existing system's own answers at `/health` and `/`, which its clients call
        // on the gateway's address.
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "up"})) }),
        )
        .route(
            "/",
            get(|| async {
                axum::Json(serde_json::json!({
                    "mensaje": "AlpesPartners DIJS - API",
                    "version": "1.0.0",
                    "estado": "activo",
                }))
            }),
        )
        .route("/spec", get(spec))
        .route("/openapi.json", get(spec))
        .fallback(proxy)
        .with_state(gateway)
}

/// `GET /spec`: the functions' documents merged into the gateway's (see the module docs).
async fn spec(State(gateway): State<Arc<Gateway>>) -> Response {
    use serde_json::{Map, Value, json};
    let mut paths = Map::new();
    let mut components: Map<String, Value> = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    for route in &gateway.routes {
        let mut document = None;
        for upstream in &route.upstreams {
            let answer = gateway
                .client
                .get(format!("{upstream}/openapi.json"))
                .timeout(gateway.timeout)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status);
            match answer {
                Ok(answer) => match answer.json::<Value>().await {
                    Ok(value) => {
                        document = Some(value);
                        break;
                    }
                    Err(error) => tracing::warn!(%upstream, %error, "unreadable OpenAPI document"),
                },
                Err(error) => tracing::warn!(%upstream, %error, "no OpenAPI document"),
            }
        }
        let Some(document) = document else {
            return problem(
                StatusCode::BAD_GATEWAY,
                format!("the OpenAPI document of {} is unavailable", route.pattern),
            );
        };
        if let Some(items) = document.get("paths").and_then(Value::as_object) {
            for (path, item) in items {
                // Only what this route serves: another route (or none) takes the rest.
                if gateway
                    .route(path)
                    .is_some_and(|chosen| std::ptr::eq(chosen, route))
                {
                    paths.entry(path.clone()).or_insert_with(|| item.clone());
                }
            }
        }
        if let Some(kinds) = document.get("components").and_then(Value::as_object) {
            for (kind, entries) in kinds {
                let Some(entries) = entries.as_object() else {
                    continue;
                };
                if let Value::Object(slot) = components
                    .entry(kind.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    for (name, entry) in entries {
                        slot.entry(name.clone()).or_insert_with(|| entry.clone());
                    }
                }
            }
        }
        for tag in document
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !tags
                .iter()
                .any(|known| known.get("name") == tag.get("name"))
            {
                tags.push(tag.clone());
            }
        }
    }
    let answer = |description: &str, example: Value| {
        json!({"get": {"responses": {"200": {
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
        }}}})
    };
    paths.insert(
        "/".to_owned(),
        answer(
            "The existing system's banner",
            json!({"mensaje": "AlpesPartners DIJS - API", "version": "1.0.0", "estado": "activo"}),
        ),
    );
    paths.insert(
        "/health".to_owned(),
        answer("The gateway is up", json!({"status": "up"})),
    );
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Alpes Partners functions (local gateway)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The functions' own documents, merged: each path as the function \
                            the gateway routes it to describes it.",
        },
        "tags": tags,
        "paths": paths,
        "components": components,
    });
    axum::Json(document).into_response()
}

/// Serves the gateway on `0.0.0.0:<port>` until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    for route in &config.routes {
        tracing::info!(pattern = route.pattern(), upstreams = ?route.upstreams(), "route");
    }
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port)))
            .await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, app(config))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

async fn proxy(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(route) = gateway.route(&path) else {
        return problem(StatusCode::NOT_FOUND, format!("no route for {path}"));
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or(path.clone(), |whole| whole.as_str().to_owned());
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is unreadable or larger than {MAX_BODY_BYTES} bytes"),
        );
    };
    let mut headers = without_hop_by_hop(&parts.headers);
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert("x-forwarded-host", host.clone());
    }

    let count = route.upstreams.len();
    let first = route.next.fetch_add(1, Ordering::Relaxed);
    let mut failure = String::new();
    for turn in 0..count {
        let upstream = &route.upstreams[(first + turn) % count];
        let sent = gateway
            .client
            .request(parts.method.clone(), format!("{upstream}{path_and_query}"))
            .headers(headers.clone())
            .body(body.clone())
            .timeout(gateway.timeout)
            .send()
            .await;
        let error = match sent {
            Ok(answer) => match relay(answer).await {
                Ok(response) => return response,
                Err(error) => error,
            },
            Err(error) => error,
        };
        if error.is_timeout() {
            tracing::warn!(%upstream, %path, "upstream timed out");
            return problem(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{} gave no answer within {:?}",
                    route.pattern, gateway.timeout
                ),
            );
        }
        tracing::warn!(%upstream, %path, error = %error, "upstream failed");
        failure = format!("{} is unreachable", route.pattern);
        // Only a refused connection is tried on the next upstream: the request was not sent.
        if !error.is_connect() {
            break;
        }
    }
    problem(StatusCode::BAD_GATEWAY, failure)
}

async fn relay(answer: reqwest::Response) -> Result<Response, reqwest::Error> {
    let status = answer.status();
    let headers = without_hop_by_hop(answer.headers());
    let body = answer.bytes().await?;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in HOP_BY_HOP {
        kept.remove(name);
    }
    // content-length is recomputed from the buffered body.
    kept.remove(header::CONTENT_LENGTH);
    kept
}

fn problem(status: StatusCode, detail: String) -> Response {
    let (kind, title) = match status {
        StatusCode::NOT_FOUND => ("/problems/not-found", "Not found"),
        StatusCode::PAYLOAD_TOO_LARGE => ("/problems/payload-too-large", "Payload too large"),
        StatusCode::GATEWAY_TIMEOUT => ("/problems/upstream-timeout", "Upstream timed out"),
        _ => ("/problems/bad-gateway", "Upstream unavailable"),
    };
    let body = serde_json::json!({
        "type": kind, "title": title, "status": status.as_u16(), "detail": detail,
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_route_table_and_prefers_the_most_specific_pattern() {
        let config = Config::from_vars(vars(&[(
            "GATEWAY_ROUTES",
            "/reportes=http://a:1/; /reportes/*/compensar=http://b:2 ;/influencers=http://c:3,http://d:4",
        )]))
        .unwrap();
        assert_eq!(config.port, 8000);
        let gateway = Gateway {
            routes: config.routes,
            client: reqwest::Client::new(),
            timeout: config.timeout,
        };
        let pattern = |path| gateway.route(path).map(Route::pattern);
        assert_eq!(pattern("/reportes"), Some("/reportes"));
        assert_eq!(pattern("/reportes/42"), Some("/reportes"));
        assert_eq!(
            pattern("/reportes/42/compensar"),
            Some("/reportes/*/compensar")
        );
        assert_eq!(pattern("/influencers/"), Some("/influencers"));
        assert_eq!(pattern("/influencersx"), None);
        assert_eq!(pattern("/"), None);
        assert_eq!(
            gateway.route("/influencers").unwrap().upstreams(),
            ["http://c:3", "http://d:4"]
        );
    }

    #[test]
    fn defaults_to_the_function_url_variables_and_names_bad_values() {
        let config = Config::from_vars(vars(&[
            ("PORT", "9000"),
            ("REGISTER_INFLUENCER_URL", "http://register:8080"),
            ("SEND_CONTRACT_URL", ""),
        ]))
        .unwrap();
        assert_eq!(config.port, 9000);
        assert_eq!(config.routes.len(), 1);
        assert_eq!(config.routes[0].pattern(), "/influencers");

        let error = Config::from_vars(vars(&[])).unwrap_err();
        assert_eq!(error.variable, "GATEWAY_ROUTES");
        let error = Config::from_vars(vars(&[("CREATE_CAMPAIGN_URL", "ftp://x")])).unwrap_err();
        assert_eq!(error.variable, "CREATE_CAMPAIGN_URL");
        let error = Config::from_vars(vars(&[
            ("GATEWAY_PORT", "http"),
            ("GATEWAY_ROUTES", "/a=http://a"),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "GATEWAY_PORT");
    }
}
