//! The report announcement, built from the domain's report (generate-report and
//! compensate-report both emit it).

use super::{IntegrationEvent, ReportEventType, ReportePayload, convert};
use crate::domain::Report;

/// The `EventoReporte` announcing `kind` of `report`: the report's whole state after
/// the change, dated by the change (`fecha_evento`, RFC 3339), keyed by the report id.
pub fn report_event(report: &Report, kind: ReportEventType) -> IntegrationEvent {
    let contract = report.contract();
    IntegrationEvent::from(ReportePayload {
        id_reporte: Some(report.id().to_string()),
        tipo_evento: Some(kind.as_str().to_owned()),
        nombre: Some(report.name().to_owned()),
        tipo_reporte: Some(report.report_type().as_str().to_owned()),
        estado: Some(report.state().as_str().to_owned()),
        id_campana: Some(report.campaign_id().to_string()),
        id_contrato: contract.map(|contract| contract.id.to_string()),
        id_influencer: report.influencer_id().map(ToString::to_string),
        monto_total: contract.map(|contract| contract.total.to_wire_f32()),
        moneda: contract.map(|contract| contract.total.currency().to_string()),
        motivo: report.cancellation_reason().map(ToString::to_string),
        fecha_evento: Some(convert::format_wire_datetime(report.updated_at())),
    })
}
