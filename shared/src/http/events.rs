//! The event endpoint: `POST /events` in the Google Pub/Sub push format, whether the push
//! comes from a Pub/Sub push subscription or from the Pulsar bridge (SPEC section 6).
//!
//! Answers: 204 when the event is handled (or was already), 200 when it is a permanent
//! failure (recorded in the logs, never retried), 400 for an envelope or payload that
//! cannot be read (the pusher dead-letters it after its attempts), 401 without a valid
//! token, 503 when a dependency is down (the pusher retries).

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::Arc,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde::Deserialize;
use tracing::Instrument;

use super::{
    json,
    metrics::{EventOutcome, event_type_label},
    problem::ApiError,
    push_auth::PushAuth,
};
use crate::{
    events::{Delivery, EventMetadata, IntegrationEvent, Topic},
    store::StoreError,
    trace_context,
};

/// One event pushed to a function, decoded, with its metadata.
#[derive(Debug, Clone)]
pub struct EventDelivery {
    pub topic: Topic,
    pub event: IntegrationEvent,
    pub metadata: EventMetadata,
    /// 1 for the first delivery.
    pub attempt: u32,
    /// The message's W3C trace context attributes (`traceparent`, `tracestate`), when it
    /// carries them: the push of a Pub/Sub subscription brings them only there.
    pub trace_context: BTreeMap<String, String>,
}

/// What a handler did with an event (logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// The inbox had it: a redelivery, no second effect.
    Duplicate,
    /// Nothing to do for this event (e.g. a campaign without an influencer).
    Ignored(String),
}

/// Why a handler did not handle an event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The event can never be handled (invalid command, broken rule): acknowledged and
    /// logged with its reason, never retried.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// A dependency is down: retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or broken invariant: retried, and dead-lettered by the pusher in the end.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for EventError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Unavailable(cause.to_string()),
            // The event's own data (e.g. a NUL in a string): retrying cannot help.
            StoreError::InvalidData(cause) => Self::Permanent(format!(
                "the database refused a value of the event: {cause}"
            )),
            other => Self::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// A function's reaction to the events it consumes.
pub trait EventHandler: Send + Sync + 'static {
    /// The topics this function consumes.
    fn topics(&self) -> &'static [Topic];

    fn handle(
        &self,
        delivery: EventDelivery,
    ) -> impl Future<Output = Result<Handled, EventError>> + Send;
}

/// A push: one message of a subscription, in the Google Pub/Sub push format.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PushEnvelope {
    message: PushMessage,
    /// The subscription, e.g. `projects/p/subscriptions/generate-report-eventos-contratos`;
    /// it names the topic when the attributes do not.
    #[serde(default)]
    subscription: Option<String>,
    /// 1 for the first delivery.
    #[serde(rename = "deliveryAttempt", default)]
    delivery_attempt: Option<u32>,
}

/// Pub/Sub sends camelCase names; its emulator sends snake_case twins beside them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PushMessage {
    /// The event: its Avro encoding (the topic's schema), in base64.
    /// Required and non-empty: an absent or empty `data` is no event (400).
    #[serde(default)]
    #[schema(format = Byte, min_length = 1, pattern = "^[A-Za-z0-9+/]+={0,2}$", required = true, nullable = false)]
    data: Option<String>,
    /// Message properties: `event_id`, `event_type`, `correlation_id`, ..., and from
    /// the bridge `pulsar_topic` and `pulsar_message_id`.
    #[serde(default)]
    attributes: HashMap<String, String>,
    #[serde(rename = "messageId", default)]
    message_id: Option<String>,
    #[serde(rename = "message_id", default)]
    message_id_snake: Option<String>,
    /// RFC 3339.
    #[serde(rename = "publishTime", default)]
    #[schema(format = DateTime)]
    publish_time: Option<String>,
    #[serde(rename = "publish_time", default)]
    #[schema(format = DateTime)]
    publish_time_snake: Option<String>,
}

struct EventsState<H> {
    handler: Arc<H>,
    auth: Arc<PushAuth>,
}

impl<H> Clone for EventsState<H> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            auth: self.auth.clone(),
        }
    }
}

/// `POST /events` for `handler`, behind `auth`.
pub fn events_router<H: EventHandler>(handler: Arc<H>, auth: Arc<PushAuth>) -> Router {
    Router::new()
        .route("/events", post(receive::<H>))
        .with_state(EventsState { handler, auth })
}

/// `POST /events`: one integration event, pushed by a Pub/Sub push subscription or by
/// the Pulsar bridge.
///
/// Handled events (and redeliveries of handled ones) answer 204; an event that can never
/// be handled is acknowledged with 200 and logged, never retried.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    operation_id = "receiveEvent",
    request_body = PushEnvelope,
    security(("push_token" = [])),
    responses(
        (status = 204, description = "Handled, already handled, or nothing to do"),
        (status = 200, description = "A permanent failure (invalid event, broken rule): acknowledged, logged with its reason, never retried"),
        (status = 400, description = "The envelope or its payload cannot be read, or this function does not consume its topic", body = super::problem::Problem, content_type = "application/problem+json"),
        super::schemas::Unauthorized,
        super::schemas::ServerErrors,
    )
)]
async fn receive<H: EventHandler>(
    State(state): State<EventsState<H>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = state.auth.verify(&headers).await {
        return error.into_response();
    }
    let delivery = match read_delivery(&body, state.handler.topics()) {
        Ok(delivery) => delivery,
        Err(error) => {
            tracing::warn!(%error, "refusing an unreadable push");
            return error.into_response();
        }
    };
    let span = tracing::info_span!(
        "event",
        otel.kind = "consumer",
        otel.name = format!("handle {}", delivery.metadata.event_type),
        event_id = %delivery.metadata.event_id,
        event_type = %delivery.metadata.event_type,
        correlation_id = %delivery.metadata.correlation_id,
        topic = delivery.topic.name(),
        attempt = delivery.attempt,
    );
    // Pushed by the bridge, the request already continues the publisher's trace (its
    // `traceparent` header); a Pub/Sub push brings the context only in the attributes.
    if !trace_context::present(&headers) {
        trace_context::continue_from(&span, &delivery.trace_context);
    }
    let event_type = event_type_label(delivery.event.event_type());
    async move {
        // A panicking handler fails this event alone, as a retry (503): the pusher
        // redelivers it, and dead-letters it if it keeps panicking.
        let handled = std::panic::AssertUnwindSafe(state.handler.handle(delivery))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic without a message");
                tracing::error!(
                    panic = message,
                    "the event handler panicked; asking for a retry"
                );
                Err(EventError::Unavailable(format!(
                    "the handler panicked: {message}"
                )))
            });
        let (outcome, mut response) = match handled {
            Ok(Handled::Applied) => {
                tracing::info!("event handled");
                ("applied", StatusCode::NO_CONTENT.into_response())
            }
            Ok(Handled::Duplicate) => {
                tracing::info!("event already handled, no second effect");
                ("duplicate", StatusCode::NO_CONTENT.into_response())
            }
            Ok(Handled::Ignored(why)) => {
                tracing::info!(reason = %why, "event ignored");
                ("ignored", StatusCode::NO_CONTENT.into_response())
            }
            Err(EventError::Permanent(why)) => {
                tracing::warn!(reason = %why, "event refused for good, acknowledged");
                ("refused", StatusCode::OK.into_response())
            }
            Err(EventError::Unavailable(why)) => {
                ("unavailable", ApiError::Unavailable(why).into_response())
            }
            Err(EventError::Internal(why)) => ("failed", ApiError::Internal(why).into_response()),
        };
        // For `events_handled_total` (the runtime's metrics layer reads it).
        response.extensions_mut().insert(EventOutcome {
            event_type,
            outcome,
        });
        response
    }
    .instrument(span)
    .await
}

fn read_delivery(body: &[u8], consumed: &[Topic]) -> Result<EventDelivery, ApiError> {
    let envelope: PushEnvelope = json::parse(body).map_err(|error| match error {
        ApiError::Validation(errors) => {
            ApiError::BadRequest(format!("not a push envelope: {errors}"))
        }
        other => other,
    })?;
    let message = envelope.message;
    let attributes = message.attributes;
    let topic = topic_of(&attributes, envelope.subscription.as_deref(), consumed)?;
    let data = STANDARD
        .decode(message.data.as_deref().unwrap_or_default())
        .map_err(|error| ApiError::BadRequest(format!("message.data is not base64: {error}")))?;
    let event = IntegrationEvent::decode(topic, &data)
        .map_err(|error| ApiError::BadRequest(format!("undecodable payload: {error}")))?;
    // The broker's id for the message, stable across redeliveries: what an event id is
    // derived from when the producer sent none.
    let message_id = attributes
        .get("pulsar_message_id")
        .cloned()
        .or(message.message_id)
        .or(message.message_id_snake)
        .unwrap_or_default();
    let published_at = message
        .publish_time
        .or(message.publish_time_snake)
        .and_then(|time| DateTime::parse_from_rfc3339(&time).ok())
        .map_or_else(Utc::now, |time| time.with_timezone(&Utc));
    let metadata = EventMetadata::from_properties(
        &attributes,
        &event,
        &Delivery {
            topic,
            message_id: &message_id,
            published_at,
        },
    );
    let trace_context = [trace_context::TRACEPARENT, trace_context::TRACESTATE]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), attributes.get(name)?.clone())))
        .collect();
    Ok(EventDelivery {
        topic,
        event,
        metadata,
        attempt: envelope.delivery_attempt.unwrap_or(1).max(1),
        trace_context,
    })
}

/// Which topic a push came from: the bridge's `pulsar_topic` attribute, else the topic of
/// its `event_type`, else the topic named in the subscription, else the only topic this
/// function consumes. A topic the function does not consume is refused.
fn topic_of(
    attributes: &HashMap<String, String>,
    subscription: Option<&str>,
    consumed: &[Topic],
) -> Result<Topic, ApiError> {
    let topic = attributes
        .get("pulsar_topic")
        .and_then(|name| Topic::from_name(name))
        .or_else(|| {
            attributes
                .get("event_type")
                .and_then(|kind| topic_of_event_type(kind))
        })
        .or_else(|| {
            subscription.and_then(|name| {
                Topic::ALL
                    .into_iter()
                    .filter(|topic| name.contains(topic.name()))
                    .max_by_key(|topic| topic.name().len())
            })
        })
        .or(match consumed {
            [only] => Some(*only),
            _ => None,
        })
        .ok_or_else(|| {
            ApiError::BadRequest("cannot tell which topic the message is from".into())
        })?;
    if consumed.contains(&topic) {
        Ok(topic)
    } else {
        Err(ApiError::BadRequest(format!(
            "this function does not consume {}",
            topic.name()
        )))
    }
}

fn topic_of_event_type(event_type: &str) -> Option<Topic> {
    Some(match event_type {
        "CrearInfluencer" => Topic::CrearInfluencer,
        "InfluencerRegistrado" => Topic::Influencers,
        "CampanaCreada" => Topic::Campanas,
        "ContratoCreado" => Topic::Contratos,
        "ContratoError" => Topic::ContratosError,
        kind if kind.starts_with("Reporte") => Topic::Reportes,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const REPORTS: &[Topic] = &[Topic::Campanas, Topic::Contratos];

    #[test]
    fn the_topic_comes_from_the_bridge_then_the_event_type_then_the_subscription() {
        let bridge = attributes(&[(
            "pulsar_topic",
            "persistent://public/default/eventos-contratos",
        )]);
        assert_eq!(topic_of(&bridge, None, REPORTS).unwrap(), Topic::Contratos);
        let typed = attributes(&[("event_type", "CampanaCreada")]);
        assert_eq!(topic_of(&typed, None, REPORTS).unwrap(), Topic::Campanas);
        let by_subscription = topic_of(
            &attributes(&[]),
            Some("projects/p/subscriptions/generate-report-eventos-contratos"),
            REPORTS,
        );
        assert_eq!(by_subscription.unwrap(), Topic::Contratos);
        assert_eq!(
            topic_of(&attributes(&[]), None, &[Topic::ContratosError]).unwrap(),
            Topic::ContratosError
        );
    }

    #[test]
    fn an_unknown_or_foreign_topic_is_refused() {
        assert!(topic_of(&attributes(&[]), None, REPORTS).is_err());
        let foreign = attributes(&[("event_type", "InfluencerRegistrado")]);
        assert!(topic_of(&foreign, None, REPORTS).is_err());
    }

    #[test]
    fn the_emulator_envelope_with_snake_case_twins_is_read() {
        let event = IntegrationEvent::from(crate::events::ContratoErrorPayload {
            id_campana: Some("camp-1".into()),
            error: Some("ContratoRechazado".into()),
            ..Default::default()
        });
        let body = serde_json::json!({
            "message": {
                "data": STANDARD.encode(event.encode().unwrap()),
                "attributes": {},
                "messageId": "42", "message_id": "42",
                "publishTime": "2026-01-01T00:00:00Z", "publish_time": "2026-01-01T00:00:00Z",
            },
            "subscription": "projects/p/subscriptions/compensate-report",
        });
        let delivery =
            read_delivery(body.to_string().as_bytes(), &[Topic::ContratosError]).unwrap();
        assert_eq!(delivery.event, event);
        assert_eq!(delivery.attempt, 1);
        assert_eq!(delivery.metadata.correlation_id, "camp-1");
        let again = read_delivery(body.to_string().as_bytes(), &[Topic::ContratosError]).unwrap();
        assert_eq!(
            delivery.metadata.event_id, again.metadata.event_id,
            "a message without event_id gets the same derived id on every delivery"
        );
    }

    #[test]
    fn garbage_is_a_bad_request() {
        for body in [
            &b"not json"[..],
            br#"{"message": 1}"#,
            br#"{"message": {"data": "%%%", "attributes": {"event_type": "ContratoError"}}}"#,
            br#"{"message": {"data": "AAAA", "attributes": {"event_type": "ContratoError"}}}"#,
        ] {
            let error = read_delivery(body, &[Topic::ContratosError]).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body:?}");
        }
    }
}
