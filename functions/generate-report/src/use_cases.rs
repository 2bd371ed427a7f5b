//! The use cases: record what a campaign or contract event says in its campaign's
//! report; find, list. Typed commands in, typed outcomes out; no HTTP, JSON or broker
//! types.
//!
//! Delivery order does not change the end state (SPEC section 7):
//! - campaign, then contract: the campaign report completes with the contract;
//! - contract, then campaign: a contract report is created, and the campaign then makes
//!   it the campaign's report (its type, name, influencer and `datos_origen`), keeping
//!   its contract and so `completado`: the same report as in the other order;
//! - compensation first (compensate-report remembered it): the report, whichever event
//!   creates it, starts `cancelado`, announced by `ReporteCreado` then
//!   `ReporteCompensado`, as when the compensation comes second;
//! - a cancelled report never changes again; a second campaign event for a campaign
//!   that has its campaign report changes nothing.
//!
//! Each event is decided in one transaction (inbox record, report write, outbox rows)
//! under the campaign's lock, shared with compensate-report. A creation that still
//! loses the unique race to another writer is rolled back and decided again.

use alpes_shared::{
    domain::{
        CampaignReportInput, CancellationReason, ContractReportInput, ExternalId, Report,
        ReportState,
    },
    events::{EventMetadata, ReportEventType, report_event},
    http::Runtime,
    store::{
        Constraint, Page, StoreError,
        reports::{self, ReportFilter},
    },
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::NAME;

/// How often an event is decided afresh after losing a race for its campaign's report
/// to another writer, before the push fails (and the pusher retries it later).
const DECISION_ATTEMPTS: u32 = 3;

/// What one consumed event asks of its campaign's report.
pub enum Fact {
    Campaign(CampaignReportInput),
    Contract(ContractReportInput),
}

/// What recording a fact did.
pub enum Recorded {
    /// The report was created or changed, and the change announced.
    Applied,
    /// The same event was handled before.
    AlreadyHandled,
    /// The report stays as it is, for this reason (the event is recorded as handled).
    Unchanged(String),
}

/// Records `fact`, which the event `cause` brought, in its campaign's report: decided
/// again (up to [`DECISION_ATTEMPTS`] times) when another writer created the report
/// meanwhile.
pub async fn record(
    runtime: &Runtime,
    fact: &Fact,
    cause: &EventMetadata,
) -> Result<Recorded, StoreError> {
    let mut attempt = 1;
    loop {
        match decide(runtime, fact, cause).await {
            // Another writer created the campaign's report between our read and our
            // insert: everything rolled back; decide again against its report.
            Err(StoreError::Conflict(Constraint::ReportPerCampaign))
                if attempt < DECISION_ATTEMPTS =>
            {
                tracing::info!(
                    attempt,
                    "lost the race for the campaign's report, deciding again"
                );
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Decides `fact` for its campaign in one transaction: inbox record, report write and
/// outbox rows commit together or not at all (SPEC section 8).
#[tracing::instrument(name = "decide report", skip_all, fields(db.system = "postgresql"))]
async fn decide(
    runtime: &Runtime,
    fact: &Fact,
    cause: &EventMetadata,
) -> Result<Recorded, StoreError> {
    let Some(mut write) = runtime.begin_event_write(cause).await? else {
        return Ok(Recorded::AlreadyHandled);
    };
    let campaign_id = fact.campaign_id().as_str();
    // Serializes with compensate-report's decisions about this campaign.
    reports::lock_campaign(write.conn(), campaign_id).await?;
    let now = Utc::now();
    let (report, kinds) =
        match reports::find_by_campaign_for_update(write.conn(), campaign_id).await? {
            None => {
                let pending = reports::pending_compensation(write.conn(), campaign_id).await?;
                let report = fact.new_report(pending, now);
                reports::insert(write.conn(), &report).await?;
                let kinds = if report.state() == ReportState::Cancelado {
                    vec![ReportEventType::Created, ReportEventType::Compensated]
                } else {
                    vec![ReportEventType::Created]
                };
                (report, kinds)
            }
            Some(mut report) => match fact.apply_to(&mut report, now) {
                Ok(()) => {
                    reports::update(write.conn(), &report).await?;
                    (report, vec![ReportEventType::Updated])
                }
                Err(why) => {
                    // Recorded in the inbox all the same: a redelivery is a plain duplicate.
                    write.commit().await?;
                    return Ok(Recorded::Unchanged(why));
                }
            },
        };
    for kind in kinds {
        let event = report_event(&report, kind);
        write
            .announce(&event, &cause.follow_up(&event, NAME))
            .await?;
    }
    write.commit().await?;
    tracing::info!(report_id = %report.id(), estado = report.state().as_str(), "report written");
    Ok(Recorded::Applied)
}

pub async fn find(runtime: &Runtime, id: Uuid) -> Result<Option<Report>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    reports::find(&mut conn, id).await
}

/// A page of reports, ordered by `fecha_creacion` then `id`.
pub async fn list(
    runtime: &Runtime,
    filter: &ReportFilter,
    page: Page,
) -> Result<Vec<Report>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    reports::list(&mut conn, filter, page).await
}

impl Fact {
    fn campaign_id(&self) -> &ExternalId {
        match self {
            Self::Campaign(input) => &input.campaign_id,
            Self::Contract(input) => &input.campaign_id,
        }
    }

    /// The report this fact creates when its campaign has none yet.
    fn new_report(&self, pending: Option<CancellationReason>, now: DateTime<Utc>) -> Report {
        match self {
            Self::Campaign(input) => {
                Report::for_campaign(input.clone(), Uuid::now_v7(), pending, now)
            }
            Self::Contract(input) => {
                Report::for_contract(input.clone(), Uuid::now_v7(), pending, now)
            }
        }
    }

    /// Applies this fact to the campaign's existing report; `Err` says why nothing changed.
    fn apply_to(&self, report: &mut Report, now: DateTime<Utc>) -> Result<(), String> {
        match self {
            Self::Campaign(input) => {
                let outcome = report.absorb_campaign(input.clone(), now);
                if outcome.changed() {
                    Ok(())
                } else {
                    Err(format!("campaign report left as it is: {outcome:?}"))
                }
            }
            Self::Contract(input) => {
                let outcome = report.attach_contract(input.contract_id.clone(), input.total, now);
                if outcome.changed() {
                    Ok(())
                } else {
                    Err(format!("contract not attached: {outcome:?}"))
                }
            }
        }
    }
}
