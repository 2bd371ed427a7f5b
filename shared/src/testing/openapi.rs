//! Checks of the OpenAPI document a function serves at `GET /openapi.json`, against the
//! router itself (answered in process, without a server or a database).

use std::collections::BTreeSet;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::Value;
use tower::ServiceExt;

/// `request` answered by `app`: its status and its body as JSON (`Null` when empty or
/// not JSON).
pub async fn call(app: Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = app.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a readable body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, content_type, body)
}

/// `GET /openapi.json` of `app`: asserts it is served as JSON and is an OpenAPI 3 document.
pub async fn fetch(app: Router) -> Value {
    let request = Request::get("/openapi.json")
        .body(Body::empty())
        .expect("a request");
    let (status, content_type, document) = call(app, request).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "not OpenAPI 3: {version:?}");
    document
}

/// Every `(method, path)` the document describes, methods in lower case.
pub fn operations(document: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| ((*method).to_owned(), path.clone()))
        })
        .collect()
}

/// Asserts the document describes exactly `expected` (method in lower case, path).
pub fn assert_operations(document: &Value, expected: &[(&str, &str)]) {
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(operations(document), expected);
}

/// The operation `method path`.
pub fn operation<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let operation = &document["paths"][path][method];
    assert!(operation.is_object(), "no operation {method} {path}");
    operation
}

/// `value`, or what its `$ref` (`#/components/...`) points at.
pub fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("not a local reference: {reference}"));
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling reference {reference}"));
            resolve(document, target)
        }
        None => value,
    }
}

/// The JSON schema of the request body of `method path`, resolved.
pub fn request_schema<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let body = resolve(document, &operation(document, method, path)["requestBody"]);
    let schema = &body["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON body");
    resolve(document, schema)
}

/// The closed vocabulary (`enum`) `schema` allows, through a `$ref` and a nullable `oneOf`.
pub fn enum_values(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    first_variant(document, schema, enum_values)
}

/// What `read` finds in the first of `schema`'s `oneOf` variants where it finds anything
/// (a nullable field: `oneOf: [null, the value]`).
fn first_variant(
    document: &Value,
    schema: &Value,
    read: fn(&Value, &Value) -> Vec<String>,
) -> Vec<String> {
    schema["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|variant| read(document, variant))
        .find(|values| !values.is_empty())
        .unwrap_or_default()
}

/// The values of a closed vocabulary as a request gives it (`openapi::*Input`: a
/// case-insensitive pattern whose `examples` are the canonical spellings), through a `$ref`
/// and a nullable `oneOf`; each example must match the pattern.
pub fn input_vocabulary(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    if let (Some(pattern), Some(examples)) =
        (schema["pattern"].as_str(), schema["examples"].as_array())
    {
        let pattern = regex::Regex::new(pattern).expect("a valid pattern");
        return examples
            .iter()
            .filter_map(Value::as_str)
            .inspect(|value| {
                assert!(
                    pattern.is_match(value),
                    "{value:?} does not match its pattern"
                )
            })
            .map(str::to_owned)
            .collect();
    }
    first_variant(document, schema, input_vocabulary)
}

/// Every `format` `schema` allows, through `$ref`s, `oneOf` and `anyOf`.
pub fn formats(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    let mut found: Vec<String> = schema["format"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    for key in ["oneOf", "anyOf"] {
        for variant in schema[key].as_array().into_iter().flatten() {
            found.extend(formats(document, variant));
        }
    }
    found
}

/// The `required` properties of an object schema.
pub fn required(schema: &Value) -> BTreeSet<&str> {
    schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The response `status` of `method path`, resolved.
pub fn response<'a>(document: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    let response = &operation(document, method, path)["responses"][status];
    assert!(
        response.is_object(),
        "{method} {path} documents no {status}"
    );
    resolve(document, response)
}

/// Asserts `method path` documents each of `statuses` as `application/problem+json`
/// with the `Problem` schema, and that schema as SPEC section 3 has it.
pub fn assert_problem_responses(document: &Value, method: &str, path: &str, statuses: &[&str]) {
    for status in statuses {
        let response = response(document, method, path, status);
        let schema = &response["content"]["application/problem+json"]["schema"];
        assert_eq!(
            schema["$ref"], "#/components/schemas/Problem",
            "{method} {path} {status}: {response}"
        );
    }
    let problem = &document["components"]["schemas"]["Problem"];
    let properties = problem["properties"]
        .as_object()
        .expect("Problem properties");
    for field in ["type", "title", "status", "detail", "errors"] {
        assert!(properties.contains_key(field), "Problem lacks {field}");
    }
    let errors = serde_json::to_string(&properties["errors"]).expect("JSON");
    assert!(
        errors.contains("#/components/schemas/ProblemFieldError"),
        "{errors}"
    );
    let field_error = &document["components"]["schemas"]["ProblemFieldError"];
    assert_eq!(
        required(field_error),
        BTreeSet::from(["campo", "mensaje"]),
        "{field_error}"
    );
}

/// Asserts `POST /events` is described as SPEC section 6 has it (a Pub/Sub push envelope
/// behind a bearer token; 204, 200, 400, 401, 503), and so are `/health` and `/ready`.
pub fn assert_event_endpoint(document: &Value) {
    let receive = operation(document, "post", "/events");
    let envelope = request_schema(document, "post", "/events");
    assert_eq!(
        required(envelope),
        BTreeSet::from(["message"]),
        "{envelope}"
    );
    let message = resolve(document, &envelope["properties"]["message"]);
    for field in ["data", "attributes", "messageId", "publishTime"] {
        assert!(
            message["properties"].get(field).is_some(),
            "message.{field}"
        );
    }
    assert_eq!(receive["security"], serde_json::json!([{"push_token": []}]));
    let scheme = &document["components"]["securitySchemes"]["push_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for status in ["200", "204"] {
        response(document, "post", "/events", status);
    }
    assert_problem_responses(document, "post", "/events", &["400", "401", "503"]);
    response(document, "get", "/health", "200");
    for status in ["200", "503"] {
        let ready = response(document, "get", "/ready", status);
        let schema = resolve(document, &ready["content"]["application/json"]["schema"]);
        assert_eq!(required(schema), BTreeSet::from(["database", "event_bus"]));
    }
}

/// Asserts every operation of the document is routed by `app`: a request of that method
/// and path (`{...}` parameters filled with `not-a-uuid`) does not end in the router's
/// fallbacks (404 "no such resource", 405). Requests are chosen to be refused before any
/// database access where the handler allows it: an unreadable body for a POST, an
/// invalid `limite` for a GET.
pub async fn assert_routed(app: &Router, document: &Value) {
    for (method, path) in operations(document) {
        let concrete = fill_parameters(&path);
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let request = if method == Method::GET {
            Request::get(format!("{concrete}?limite=0")).body(Body::empty())
        } else {
            Request::builder()
                .method(method.clone())
                .uri(&concrete)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("not json"))
        }
        .expect("a request");
        let (status, _, body) = call(app.clone(), request).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but not routed"
        );
        assert!(
            !(status == StatusCode::NOT_FOUND && body["detail"] == "no such resource"),
            "{method} {path} is documented but not routed"
        );
    }
}

fn fill_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "not-a-uuid"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
