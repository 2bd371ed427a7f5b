//! `GET /metrics` against the real PostgreSQL and Pulsar: requests counted by route
//! template, method and status, their latency histogram, the events handled, the outbox
//! backlog (up with an unpublished row, down after a relay) and the relay's counters; and
//! a scrape that still answers, quickly, when the database does not.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

mod common;

use alpes_shared::{
    events::{CrearInfluencerPayload, IntegrationEvent},
    store::{Context, outbox},
    testing::TestApp,
};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

async fn spawn(connect: PgConnectOptions) -> TestApp {
    TestApp::spawn(
        register_influencer::NAME,
        Context::Alpes,
        connect,
        &[],
        register_influencer::app,
    )
    .await
}

/// The scrape's text, after checking its status and content type.
async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

/// The value of the sample `name{labels}` (labels as written, in order), if present.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.parse().expect("a number"))
}

fn value(text: &str, name: &str, labels: &str) -> f64 {
    sample(text, name, labels).unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{text}"))
}

/// An `InfluencerRegistrado` row written without a lease, a minute ago.
async fn unpublished_row(app: &TestApp) -> Uuid {
    let (_, metadata, mut tx) = common::unpublished_registration(app, "Olga Outbox").await;
    // Written a minute ago: the oldest row's age says so.
    sqlx::query(
        "UPDATE outbox SET created_at = clock_timestamp() - interval '60 seconds' \
         WHERE event_id = $1",
    )
    .bind(metadata.event_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    metadata.event_id
}

async fn pending(app: &TestApp) -> i64 {
    let mut connection = app.runtime.pool.acquire().await.unwrap();
    outbox::pending_count(&mut connection).await.unwrap()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn metrics_count_requests_by_route_template_and_follow_the_outbox(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;

    // Requests: two lookups of absent influencers (one template, two raw paths), a
    // create, a path no route serves, a method the route does not allow.
    let absent = [Uuid::new_v4(), Uuid::new_v4()];
    for id in absent {
        let response = app
            .client
            .get(app.url(&format!("/influencers/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    let created = app
        .client
        .post(app.url("/influencers"))
        .json(&json!({
            "nombre": "Mara Metrics",
            "email": format!("mara-{}@example.com", Uuid::new_v4()),
            "categorias": ["moda"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let nowhere = app
        .client
        .get(app.url("/nowhere/else"))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
    let not_allowed = app
        .client
        .delete(app.url("/influencers"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_allowed.status(), 405);

    // Events: a command applied, then its redelivery (a duplicate).
    let command = IntegrationEvent::from(CrearInfluencerPayload {
        id: Some(Uuid::new_v4().to_string()),
        nombre: Some("Carla Command".into()),
        email: Some(format!("carla-{}@example.com", Uuid::new_v4())),
        categorias: Some(vec!["moda".into()]),
        fecha_creacion: Some("2025-09-20T10:00:00.123456".into()),
        ..Default::default()
    });
    for _ in 0..2 {
        let pushed = app.push(&command, &BTreeMap::new(), "9:1:-1:-1").await;
        assert_eq!(pushed.status(), 204);
    }

    // The two events of the create and the command go out inline; wait for their marks.
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending(&app).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the inline publishes never got marked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = scrape(&app).await;
    assert_eq!(value(&text, "outbox_backlog", ""), 0.0, "{text}");
    assert_eq!(value(&text, "outbox_oldest_age_seconds", ""), 0.0);
    let published_inline = value(&text, "outbox_relay_published_total", "");
    assert_eq!(
        published_inline, 2.0,
        "the create's and the command's events"
    );
    assert_eq!(value(&text, "outbox_relay_failures_total", ""), 0.0);
    assert_eq!(value(&text, "outbox_scrape_errors_total", ""), 0.0);

    let by_id = r#"route="/influencers/{id}",method="GET""#;
    assert_eq!(
        value(
            &text,
            "http_requests_total",
            &format!("{by_id},status=\"404\"")
        ),
        2.0
    );
    assert_eq!(
        value(&text, "http_request_duration_seconds_count", by_id),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "http_request_duration_seconds_bucket",
            &format!("{by_id},le=\"+Inf\"")
        ),
        2.0
    );
    assert!(value(&text, "http_request_duration_seconds_sum", by_id) > 0.0);
    for id in absent {
        assert!(!text.contains(&id.to_string()), "a raw path as a label");
    }
    assert_eq!(
        value(
            &text,
            "http_requests_total",
            r#"route="/influencers",method="POST",status="201""#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "http_requests_total",
            r#"route="/influencers",method="DELETE",status="405""#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "http_requests_total",
            r#"route="unmatched",method="GET",status="404""#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "http_requests_total",
            r#"route="/events",method="POST",status="204""#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "events_handled_total",
            r#"event_type="CrearInfluencer",outcome="applied""#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "events_handled_total",
            r#"event_type="CrearInfluencer",outcome="duplicate""#
        ),
        1.0
    );
    for family in [
        "# TYPE http_requests_total counter",
        "# TYPE http_request_duration_seconds histogram",
        "# TYPE events_handled_total counter",
        "# TYPE outbox_backlog gauge",
        "# TYPE outbox_oldest_age_seconds gauge",
        "# TYPE outbox_relay_published_total counter",
        "# TYPE outbox_relay_failures_total counter",
        "# TYPE outbox_scrape_errors_total counter",
    ] {
        assert!(
            text.lines().any(|line| line == family),
            "{family} in\n{text}"
        );
    }

    // An unpublished row: the backlog and its age show it.
    unpublished_row(&app).await;
    let text = scrape(&app).await;
    assert_eq!(value(&text, "outbox_backlog", ""), 1.0, "{text}");
    let age = value(&text, "outbox_oldest_age_seconds", "");
    assert!((60.0..600.0).contains(&age), "oldest age {age}");
    // The previous scrape is a request like any other.
    assert_eq!(
        value(
            &text,
            "http_requests_total",
            r#"route="/metrics",method="GET",status="200""#
        ),
        1.0
    );

    // The relay publishes it: the backlog drops, the relay's counter rises.
    let relayed = app
        .client
        .post(app.url("/outbox/relay"))
        .bearer_auth(&app.push_token)
        .send()
        .await
        .unwrap();
    assert_eq!(relayed.status(), 200);
    let text = scrape(&app).await;
    assert_eq!(value(&text, "outbox_backlog", ""), 0.0, "{text}");
    assert_eq!(value(&text, "outbox_oldest_age_seconds", ""), 0.0);
    assert_eq!(
        value(&text, "outbox_relay_published_total", ""),
        published_inline + 1.0
    );
    app.close().await;
}

/// A database that accepts connections and never answers: the scrape still answers 200
/// within its bound, with the request metrics, without the outbox gauges, counting the
/// failure.
#[tokio::test]
async fn a_scrape_answers_without_the_outbox_when_the_database_does_not() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let connect = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("alpes")
        .password("alpes")
        .database("alpes");
    let app = spawn(connect).await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    for scrapes in 1..=2 {
        let started = Instant::now();
        let text = scrape(&app).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the scrape took {:?}",
            started.elapsed()
        );
        assert_eq!(
            value(&text, "outbox_scrape_errors_total", ""),
            f64::from(scrapes)
        );
        assert_eq!(sample(&text, "outbox_backlog", ""), None, "{text}");
        assert_eq!(sample(&text, "outbox_oldest_age_seconds", ""), None);
        assert_eq!(
            value(
                &text,
                "http_requests_total",
                r#"route="/health",method="GET",status="200""#
            ),
            1.0
        );
    }
}
