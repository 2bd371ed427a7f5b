//! compensate-report: the saga's compensation. On `EventoContratoError` the report of
//! the campaign whose contract failed is cancelled; `POST /reportes/{id}/compensar`
//! cancels one report by hand. Emits `EventoReporte` with `ReporteCompensado` on
//! `eventos-reportes`, once per report that changed.
//!
//! The rejection may come before the campaign's report exists (the report step and the
//! contract step run in parallel, SPEC section 7): then the compensation is remembered
//! (a pending compensation of the campaign) and generate-report creates the report
//! directly cancelled. Both functions decide about a campaign under its lock
//! (`reports::lock_campaign`), so a creation and a compensation racing each other
//! cannot both miss the other.

use std::sync::Arc;

use alpes_shared::{
    domain::{CancellationReason, ExternalId},
    events::{EventMetadata, IntegrationEvent, ReportEventType, Topic},
    http::{
        ApiError, EventDelivery, EventError, EventHandler, Handled, Json, Runtime, events_router,
        openapi,
    },
    store::{
        StoreError, inbox,
        outbox::{Enqueued, OutboxMessage},
        reports,
    },
};
use axum::{
    Router,
    extract::{Path, State},
    routing::post,
};
use chrono::Utc;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

pub use alpes_shared::{events::report_event, views::ReportBody};

pub const NAME: &str = "compensate-report";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let compensations = Arc::new(Compensations {
        runtime: runtime.clone(),
    });
    let api = Router::new()
        .route("/reportes/{id}/compensar", post(compensate))
        .route(
            "/openapi.json",
            openapi::route(ApiDoc::openapi, compensations.topics()),
        )
        .route(
            "/spec",
            openapi::spec_route(ApiDoc::openapi, compensations.topics()),
        )
        .with_state(runtime.clone());
    let events = events_router(compensations, runtime.push_auth.clone());
    runtime.router(api.merge(events))
}

/// This function's API, for `GET /openapi.json` (the shared endpoints are added by
/// [`openapi::document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "The saga's compensation: cancels the report of the campaign whose contract failed (`EventoContratoError`), or one report by hand (`POST /reportes/{id}/compensar`). Announces each cancellation with `EventoReporte` (`ReporteCompensado`) on `eventos-reportes`."
    ),
    paths(compensate),
    tags((name = "reportes", description = "Reports of campaigns and contracts"))
)]
struct ApiDoc;

/// A `POST /reportes/{id}/compensar` body.
#[derive(ToSchema)]
#[schema(example = json!({"motivo": "El influencer canceló la campaña"}))]
#[allow(dead_code)]
// describes a body, never built: `typed_reason` reads it
// Unknown fields are refused (422): `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct CompensateReportRequest {
    /// Why the report is cancelled: 1..=2000 characters after trimming. Kept only the
    /// first time: a report already cancelled keeps its `motivo`.
    #[schema(min_length = 1, pattern = "text:required:long:2000")]
    motivo: String,
}

/// The `motivo` of a `POST /reportes/{id}/compensar` body.
fn typed_reason(body: &Value) -> Result<CancellationReason, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::validation("body", "must be a JSON object"));
    };
    // As every body: what the API does not know is refused, not silently dropped.
    if let Some(unknown) = fields.keys().find(|key| key.as_str() != "motivo") {
        return Err(ApiError::validation(
            unknown,
            "unknown field, expected `motivo`",
        ));
    }
    match fields.get("motivo") {
        None | Some(Value::Null) => Err(ApiError::validation("motivo", "is required")),
        Some(Value::String(raw)) => CancellationReason::parse(raw)
            .map_err(|error| ApiError::Validation(error.at("motivo").into())),
        Some(_) => Err(ApiError::validation("motivo", "must be a string")),
    }
}

/// Cancels one report by hand.
///
/// `POST /reportes/{id}/compensar` with `{"motivo": "..."}`: 200 with the cancelled
/// report, also when it already was (its first `motivo` is kept and nothing is
/// announced again); 404 for an unknown report; 422 without a usable `motivo` or with
/// another field.
#[utoipa::path(
    post,
    path = "/reportes/{id}/compensar",
    tag = "reportes",
    operation_id = "compensateReport",
    params(("id" = Uuid, Path, description = "The report's id")),
    request_body = CompensateReportRequest,
    responses(
        (status = 200, description = "The report, `cancelado` (now or already)", body = ReportBody),
        openapi::BadRequest,
        openapi::NotFound,
        openapi::PayloadTooLarge,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn compensate(
    State(runtime): State<Runtime>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<axum::Json<ReportBody>, ApiError> {
    let reason = typed_reason(&body)?;
    let not_found = || ApiError::NotFound(format!("no report {id}"));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut tx = runtime.pool.begin().await.map_err(StoreError::from)?;
    let mut report = reports::find_for_update(&mut tx, uuid)
        .await?
        .ok_or_else(not_found)?;
    if !report.cancel(reason, Utc::now()).changed() {
        return Ok(axum::Json(ReportBody::from(&report)));
    }
    let event = report_event(&report, ReportEventType::Compensated);
    // No event caused this one: the saga it belongs to is the campaign's.
    let metadata = EventMetadata::new(&event, report.campaign_id().to_string(), NAME);
    let message = OutboxMessage::new(&event, &metadata)
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    reports::update(&mut tx, &report).await?;
    let enqueued = runtime.enqueue(&mut tx, message).await?;
    tx.commit().await.map_err(StoreError::from)?;
    runtime.publish_committed(vec![enqueued]).await;
    tracing::info!(report_id = %report.id(), "report compensated by hand");
    Ok(axum::Json(ReportBody::from(&report)))
}

/// What compensating a campaign committed.
struct Decided {
    handled: Handled,
    announced: Option<Enqueued>,
}

/// Compensates `campaign_id` in one transaction: inbox record, the report's
/// cancellation (or the pending compensation) and the outbox row commit together.
///
/// No unique race can make this fail: the report is only updated, and a pending
/// compensation is recorded with `ON CONFLICT DO NOTHING` (the first reason wins).
#[tracing::instrument(name = "decide compensation", skip_all, fields(db.system = "postgresql"))]
async fn decide(
    runtime: &Runtime,
    campaign_id: &ExternalId,
    reason: CancellationReason,
    cause: &EventMetadata,
) -> Result<Decided, StoreError> {
    let mut tx = runtime.pool.begin().await?;
    if !inbox::record(&mut tx, NAME, &cause.event_id.to_string()).await? {
        return Ok(Decided {
            handled: Handled::Duplicate,
            announced: None,
        });
    }
    // Serializes with generate-report's decisions about this campaign.
    reports::lock_campaign(&mut tx, campaign_id.as_str()).await?;
    // One report per campaign (reports_one_per_campaign): "every report of the campaign"
    // is this one.
    let Some(mut report) =
        reports::find_by_campaign_for_update(&mut tx, campaign_id.as_str()).await?
    else {
        let recorded =
            reports::record_pending_compensation(&mut tx, campaign_id.as_str(), &reason).await?;
        tx.commit().await?;
        tracing::info!(
            recorded,
            "no report yet: the compensation waits for the campaign's report"
        );
        return Ok(Decided {
            handled: Handled::Applied,
            announced: None,
        });
    };
    let outcome = report.cancel(reason, Utc::now());
    if !outcome.changed() {
        tx.commit().await?;
        return Ok(Decided {
            handled: Handled::Ignored(format!("report {} is already cancelled", report.id())),
            announced: None,
        });
    }
    let event = report_event(&report, ReportEventType::Compensated);
    let message = OutboxMessage::new(&event, &cause.follow_up(&event, NAME))
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    reports::update(&mut tx, &report).await?;
    let enqueued = runtime.enqueue(&mut tx, message).await?;
    tx.commit().await?;
    tracing::info!(report_id = %report.id(), "report compensated");
    Ok(Decided {
        handled: Handled::Applied,
        announced: Some(enqueued),
    })
}

/// The `EventoContratoError` of the saga's failed contract step.
struct Compensations {
    runtime: Runtime,
}

impl EventHandler for Compensations {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::ContratosError]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::ContratoError(error) = &delivery.event else {
            return Err(EventError::Permanent("not an EventoContratoError".into()));
        };
        let campaign_id = error
            .id_campana
            .as_deref()
            .ok_or_else(|| EventError::Permanent("id_campana is missing".into()))
            .and_then(|raw| {
                ExternalId::parse(raw)
                    .map_err(|invalid| EventError::Permanent(format!("id_campana: {invalid}")))
            })?;
        let reason = CancellationReason::from_contract_error(
            error.error.as_deref(),
            error.error_detalle.as_deref(),
        );
        let decided = decide(&self.runtime, &campaign_id, reason, &delivery.metadata).await?;
        self.runtime
            .publish_committed(decided.announced.into_iter().collect())
            .await;
        Ok(decided.handled)
    }
}
