//! JSON representations served by more than one function.
//!
//! Reports are written by generate-report and compensate-report alike, and both answer
//! with the same body.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::Report,
    http::openapi::{ReportStateSchema, ReportTypeSchema},
};

/// A report as `GET /reportes` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Report)]
pub struct ReportBody {
    id: Uuid,
    #[schema(value_type = ReportTypeSchema)]
    tipo_reporte: &'static str,
    nombre: String,
    #[schema(value_type = ReportStateSchema)]
    estado: &'static str,
    id_campana: String,
    id_influencer: Option<String>,
    /// Set once the campaign's contract is attached.
    id_contrato: Option<String>,
    /// A JSON number with two places at most, like the amounts clients send.
    monto_total: Option<f64>,
    /// ISO 4217 code of `monto_total`.
    moneda: Option<String>,
    /// Why the report was cancelled (`cancelado` only).
    motivo: Option<String>,
    /// The fields of the event the report was made from.
    datos_origen: Value,
    fecha_creacion: DateTime<Utc>,
    fecha_actualizacion: DateTime<Utc>,
}

impl From<&Report> for ReportBody {
    fn from(report: &Report) -> Self {
        let contract = report.contract();
        Self {
            id: report.id(),
            tipo_reporte: report.report_type().as_str(),
            nombre: report.name().to_owned(),
            estado: report.state().as_str(),
            id_campana: report.campaign_id().to_string(),
            id_influencer: report.influencer_id().map(ToString::to_string),
            id_contrato: contract.map(|contract| contract.id.to_string()),
            // A two-place decimal's text is its shortest float text: the number reads
            // back as written (exactly below 10^13).
            monto_total: contract
                .and_then(|contract| contract.total.amount().to_string().parse().ok()),
            moneda: contract.map(|contract| contract.total.currency().to_string()),
            motivo: report.cancellation_reason().map(ToString::to_string),
            datos_origen: report.source_data().clone(),
            fecha_creacion: report.created_at(),
            fecha_actualizacion: report.updated_at(),
        }
    }
}
