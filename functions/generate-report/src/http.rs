//! The HTTP adapter: the read API over the reports.

use alpes_shared::{
    domain::ValidationErrors,
    events::Topic,
    http::{
        ApiError, ListQuery, Runtime,
        openapi::{self, PageParams},
        query::{Filters, find_by_path, parse_filter, text_filter},
    },
    store::reports::ReportFilter,
    views::ReportBody,
};
use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::use_cases;

pub fn routes(runtime: Runtime) -> Router {
    let topics = &[Topic::Campanas, Topic::Contratos];
    Router::new()
        .route("/reportes", get(list))
        .route("/reportes/{id}", get(find))
        .route("/openapi.json", openapi::route(ApiDoc::openapi, topics))
        .route("/spec", openapi::spec_route(ApiDoc::openapi, topics))
        .with_state(runtime)
}

/// This function's API, for `GET /openapi.json` (the shared endpoints are added by
/// [`openapi::document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "Builds the report of each campaign from `EventoCampanaCreada` and `EventoContratoCreado`, and serves the reports. Announces each change with `EventoReporte` on `eventos-reportes`."
    ),
    paths(list, find),
    tags((name = "reportes", description = "Reports of campaigns and contracts"))
)]
struct ApiDoc;

/// The filters of `GET /reportes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportFilters {
    /// Only this campaign's reports.
    #[param(pattern = "^[^\\u0000]*$")]
    id_campana: Option<String>,
    /// Only reports in this state; an unknown state is 422.
    #[param(inline, value_type = Option<openapi::ReportStateInput>)]
    estado: Option<String>,
    /// Only reports of this type; an unknown type is 422.
    #[param(inline, value_type = Option<openapi::ReportTypeInput>)]
    tipo_reporte: Option<String>,
}

impl Filters for ReportFilters {
    type Filter = ReportFilter;

    fn into_filter(self, errors: &mut ValidationErrors) -> ReportFilter {
        ReportFilter {
            campaign_id: text_filter(self.id_campana.as_deref()).map(str::to_owned),
            state: parse_filter("estado", self.estado.as_deref(), errors),
            report_type: parse_filter("tipo_reporte", self.tipo_reporte.as_deref(), errors),
        }
    }
}

/// One report.
///
/// `GET /reportes/{id}`.
#[utoipa::path(
    get,
    path = "/reportes/{id}",
    tag = "reportes",
    operation_id = "getReport",
    params(("id" = Uuid, Path, description = "The report's id")),
    responses(
        (status = 200, description = "The report", body = ReportBody),
        openapi::NotFound,
        openapi::ServerErrors,
    )
)]
async fn find(
    State(runtime): State<Runtime>,
    Path(id): Path<String>,
) -> Result<Json<ReportBody>, ApiError> {
    let report = find_by_path("report", &id, |uuid| use_cases::find(&runtime, uuid)).await?;
    Ok(Json(ReportBody::from(&report)))
}

/// Lists reports.
///
/// `GET /reportes?id_campana=&estado=&tipo_reporte=&limite=&offset=`, ordered by
/// `fecha_creacion` then `id`.
#[utoipa::path(
    get,
    path = "/reportes",
    tag = "reportes",
    operation_id = "listReports",
    params(PageParams, ReportFilters),
    responses(
        (status = 200, description = "The page of reports", body = Vec<ReportBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list(
    State(runtime): State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<ReportBody>>, ApiError> {
    let (page, filter) = query.read::<ReportFilters>()?;
    let found = use_cases::list(&runtime, &filter, page).await?;
    Ok(Json(found.iter().map(ReportBody::from).collect()))
}
