//! The HTTP adapter: the compensation body (read and documented by one type) into a
//! reason, the use case's outcome into a response.

use alpes_shared::{
    domain::{CancellationReason, FieldError, ValidationErrors},
    http::{ApiError, Json, Runtime, json, openapi, query::find_by_path},
    views::ReportBody,
};
use axum::{
    Router,
    extract::{Path, State},
    routing::post,
};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::use_cases;

pub fn routes(runtime: Runtime) -> Router {
    let topics = &[alpes_shared::events::Topic::ContratosError];
    Router::new()
        .route("/reportes/{id}/compensar", post(compensate))
        .route("/openapi.json", openapi::route(ApiDoc::openapi, topics))
        .route("/spec", openapi::spec_route(ApiDoc::openapi, topics))
        .with_state(runtime)
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
///
/// Read leniently (`motivo` optional, its value left to the domain) so that a missing
/// `motivo` is a field error like a bad one. Unknown fields are refused (422):
/// `additionalProperties: false`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"motivo": "El influencer canceló la campaña"}))]
pub struct CompensateReportRequest {
    /// Why the report is cancelled: 1..=2000 characters after trimming. Kept only the
    /// first time: a report already cancelled keeps its `motivo`.
    #[schema(required = true, value_type = String, min_length = 1, pattern = "text:required:long:2000")]
    motivo: Option<String>,
}

impl TryFrom<CompensateReportRequest> for CancellationReason {
    type Error = ValidationErrors;

    fn try_from(request: CompensateReportRequest) -> Result<Self, Self::Error> {
        let Some(raw) = request.motivo else {
            return Err(FieldError::new("motivo", "is required").into());
        };
        CancellationReason::parse(&raw).map_err(|error| error.at("motivo").into())
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
    Json(body): Json<serde_json::Value>,
) -> Result<axum::Json<ReportBody>, ApiError> {
    // serde reads a struct from a JSON array too: the body must be an object first.
    if !body.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let request: CompensateReportRequest = json::parse(body.to_string().as_bytes())?;
    let reason = CancellationReason::try_from(request).map_err(ApiError::Validation)?;
    let report = find_by_path("report", &id, |uuid| {
        use_cases::compensate_report(&runtime, uuid, reason)
    })
    .await?;
    Ok(axum::Json(ReportBody::from(&report)))
}
