//! The same router under AWS Lambda: an API Gateway HTTP API (v2) event goes through
//! `lambda_http`'s adapter, exactly as `lambda_http::run` drives it, and comes back as
//! an API Gateway response.

use alpes_shared::{store::Context, testing::test_config};
use lambda_http::{
    Adapter, Context as LambdaContext, LambdaEvent, Service, request::LambdaRequest,
};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn api_gateway_v2(method: &str, path: &str, body: Option<&Value>) -> LambdaRequest {
    serde_json::from_value(json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:20:00:00 +0000",
            "timeEpoch": 1_795_809_600_000_i64
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    }))
    .expect("a valid API Gateway v2 event")
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn an_api_gateway_v2_event_registers_and_reads_back(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let mut config = test_config(&[]);
    config.database.connect = connect;
    let runtime =
        alpes_shared::http::Runtime::new(register_influencer::NAME, config, Context::Alpes);
    let mut adapter = Adapter::from(register_influencer::app(runtime));

    let body = json!({"nombre": "Ana", "email": "ana@example.com", "categorias": ["moda"]});
    let created = adapter
        .call(LambdaEvent::new(
            api_gateway_v2("POST", "/influencers", Some(&body)),
            LambdaContext::default(),
        ))
        .await
        .expect("the adapter answers");
    let created = serde_json::to_value(created).unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
    let influencer: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    assert_eq!(influencer["email"], "ana@example.com");

    let path = format!("/influencers/{}", influencer["id"].as_str().unwrap());
    let fetched = adapter
        .call(LambdaEvent::new(
            api_gateway_v2("GET", &path, None),
            LambdaContext::default(),
        ))
        .await
        .expect("the adapter answers");
    let fetched = serde_json::to_value(fetched).unwrap();
    assert_eq!(fetched["statusCode"], 200);
    assert_eq!(
        serde_json::from_str::<Value>(fetched["body"].as_str().unwrap()).unwrap(),
        influencer
    );
}
