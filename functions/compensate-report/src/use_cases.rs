//! The use cases: compensate the campaign whose contract step failed, and cancel one
//! report by hand. Typed commands in, typed outcomes out; no HTTP, JSON or broker types.

use alpes_shared::{
    domain::{CancellationReason, CompensateCampaign, Report},
    events::{EventMetadata, ReportEventType, report_event},
    http::{Origin, Runtime, Write},
    store::{StoreError, reports},
};
use chrono::Utc;
use uuid::Uuid;

use crate::NAME;

/// What compensating a campaign did.
pub enum Compensated {
    /// Its report is now `cancelado`, announced with `ReporteCompensado`.
    Cancelled,
    /// No report yet: the compensation waits for the campaign's report.
    Pending,
    /// Its report already was `cancelado`: nothing changed, nothing announced.
    AlreadyCancelled(Uuid),
    /// This event was handled before.
    AlreadyHandled,
}

/// Compensates the campaign in one transaction: inbox record, the report's cancellation
/// (or the pending compensation) and the outbox row commit together.
///
/// No unique race can make this fail: the report is only updated, and a pending
/// compensation is recorded with `ON CONFLICT DO NOTHING` (the first reason wins).
#[tracing::instrument(name = "decide compensation", skip_all, fields(db.system = "postgresql"))]
pub async fn compensate_campaign(
    runtime: &Runtime,
    command: CompensateCampaign,
    cause: &EventMetadata,
) -> Result<Compensated, StoreError> {
    let origin = Origin::Event(cause);
    let Some(mut write) = runtime.begin_event_write(cause).await? else {
        return Ok(Compensated::AlreadyHandled);
    };
    let campaign_id = command.campaign_id.as_str();
    // Serializes with generate-report's decisions about this campaign.
    reports::lock_campaign(write.conn(), campaign_id).await?;
    // One report per campaign (reports_one_per_campaign): "every report of the campaign"
    // is this one.
    let Some(report) = reports::find_by_campaign_for_update(write.conn(), campaign_id).await?
    else {
        let recorded =
            reports::record_pending_compensation(write.conn(), campaign_id, &command.reason)
                .await?;
        write.commit().await?;
        tracing::info!(
            recorded,
            "no report yet: the compensation waits for the campaign's report"
        );
        return Ok(Compensated::Pending);
    };
    let (report, changed) = cancel(write, origin, report, command.reason).await?;
    if !changed {
        return Ok(Compensated::AlreadyCancelled(report.id()));
    }
    tracing::info!(report_id = %report.id(), "report compensated");
    Ok(Compensated::Cancelled)
}

/// Cancels one report by hand: the report, `cancelado` now or already (then its first
/// `motivo` is kept and nothing is announced again); `None` for an unknown report.
pub async fn compensate_report(
    runtime: &Runtime,
    id: Uuid,
    reason: CancellationReason,
) -> Result<Option<Report>, StoreError> {
    let origin = Origin::Api(None);
    let mut write = runtime.begin().await?;
    let Some(report) = reports::find_for_update(write.conn(), id).await? else {
        return Ok(None);
    };
    let (report, changed) = cancel(write, origin, report, reason).await?;
    if changed {
        tracing::info!(report_id = %report.id(), "report compensated by hand");
    }
    Ok(Some(report))
}

/// Cancels `report` in `write`, announces it with `ReporteCompensado`, and commits; the
/// report, and whether it changed (a report already cancelled is left as it was).
async fn cancel(
    mut write: Write,
    origin: Origin<'_>,
    mut report: Report,
    reason: CancellationReason,
) -> Result<(Report, bool), StoreError> {
    if !report.cancel(reason, Utc::now()).changed() {
        write.commit().await?;
        return Ok((report, false));
    }
    let event = report_event(&report, ReportEventType::Compensated);
    // Without a cause, the saga it belongs to is the campaign's.
    let metadata = origin.metadata(&event, report.campaign_id().to_string(), NAME);
    reports::update(write.conn(), &report).await?;
    write.announce(&event, &metadata).await?;
    write.commit().await?;
    Ok((report, true))
}
