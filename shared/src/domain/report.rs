//! The report aggregate (context `reportes`): built from events only, so its inputs
//! are already-parsed values and its operations cannot fail on input, only decline.

use super::period::at_storage_precision;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::compensation::CancellationReason;
use super::kinds::ReportType;
use super::money::Money;
use super::states::{ReportState, advance};
use super::text::{CampaignName, ExternalId};

/// What a campaign report is made from (an `EventoCampanaCreada`).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReportInput {
    pub campaign_id: ExternalId,
    /// The event's `nombre`, as sent; other producers may omit it.
    pub campaign_name: Option<String>,
    pub influencer_id: Option<ExternalId>,
    /// `datos_origen`: the event's fields, kept opaque for whoever reads the report.
    pub source_data: Value,
}

/// What a contract report is made from (an `EventoContratoCreado` of a campaign that
/// has no report here).
#[derive(Debug, Clone, PartialEq)]
pub struct ContractReportInput {
    pub contract_id: ExternalId,
    pub campaign_id: ExternalId,
    pub influencer_id: Option<ExternalId>,
    pub total: Money,
    pub source_data: Value,
}

/// The contract a report is about (`id_contrato`, `monto_total`, `moneda`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedContract {
    pub id: ExternalId,
    pub total: Money,
}

/// What [`Report::attach_contract`] did. Only [`AttachOutcome::Completed`] changed the
/// report (and so calls for `ReporteActualizado`).
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachOutcome {
    Completed,
    /// That contract is already attached: a redelivery.
    AlreadyAttached,
    /// Another contract is attached: the first one is kept, so a report never changes
    /// its contract under a reader and redeliveries stay harmless.
    OtherContractKept {
        attached: ExternalId,
    },
    /// The report was compensated; a late contract never revives it (SPEC section 7).
    ReportCancelled,
}

impl AttachOutcome {
    pub fn changed(&self) -> bool {
        *self == Self::Completed
    }
}

/// What [`Report::absorb_campaign`] did. Only [`AbsorbOutcome::Absorbed`] changed the
/// report (and so calls for `ReporteActualizado`).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsorbOutcome {
    /// A contract report (its contract arrived before its campaign) became the
    /// campaign's report: the same report the other delivery order builds.
    Absorbed,
    /// Already the campaign's report: a duplicate `CampanaCreada`; the first one is kept.
    AlreadyCampaignReport,
    /// The report was compensated; a late campaign never revives or rewrites it.
    ReportCancelled,
    /// The input is about another campaign (a caller's mistake): nothing changes.
    OtherCampaign,
}

impl AbsorbOutcome {
    pub fn changed(self) -> bool {
        self == Self::Absorbed
    }
}

/// What [`Report::cancel`] did. Only [`CancelOutcome::Cancelled`] calls for
/// `ReporteCompensado`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// Cancelled before; the first `motivo` is kept.
    AlreadyCancelled,
}

impl CancelOutcome {
    pub fn changed(self) -> bool {
        self == Self::Cancelled
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    id: Uuid,
    report_type: ReportType,
    name: String,
    state: ReportState,
    campaign_id: ExternalId,
    influencer_id: Option<ExternalId>,
    contract: Option<AttachedContract>,
    source_data: Value,
    cancellation_reason: Option<CancellationReason>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Every field of a stored report, for the repository to rebuild one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRecord {
    pub id: Uuid,
    pub report_type: ReportType,
    pub name: String,
    pub state: ReportState,
    pub campaign_id: ExternalId,
    pub influencer_id: Option<ExternalId>,
    pub contract: Option<AttachedContract>,
    pub source_data: Value,
    pub cancellation_reason: Option<CancellationReason>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Report {
    /// The report of a campaign: `campana`, "Reporte de campaña: {nombre}", `activo`,
    /// or directly `cancelado` when its compensation arrived first (`pending`). A
    /// campaign without a usable name is named by its id.
    pub fn for_campaign(
        input: CampaignReportInput,
        id: Uuid,
        pending: Option<CancellationReason>,
        now: DateTime<Utc>,
    ) -> Self {
        let now = at_storage_precision(now);
        Self::created(
            Self {
                id,
                report_type: ReportType::Campana,
                name: campaign_report_name(&input),
                state: ReportState::Activo,
                campaign_id: input.campaign_id,
                influencer_id: input.influencer_id,
                contract: None,
                source_data: input.source_data,
                cancellation_reason: None,
                created_at: now,
                updated_at: now,
            },
            pending,
        )
    }

    /// The report of a contract whose campaign has no report (other producers exist):
    /// `contrato`, "Reporte de contrato: {id_contrato}", the contract attached,
    /// `activo` (completion is what a contract does to a campaign report; this report
    /// starts with its contract), or `cancelado` under a pending compensation.
    pub fn for_contract(
        input: ContractReportInput,
        id: Uuid,
        pending: Option<CancellationReason>,
        now: DateTime<Utc>,
    ) -> Self {
        let now = at_storage_precision(now);
        Self::created(
            Self {
                id,
                report_type: ReportType::Contrato,
                name: format!("Reporte de contrato: {}", input.contract_id),
                state: ReportState::Activo,
                campaign_id: input.campaign_id,
                influencer_id: input.influencer_id,
                contract: Some(AttachedContract {
                    id: input.contract_id,
                    total: input.total,
                }),
                source_data: input.source_data,
                cancellation_reason: None,
                created_at: now,
                updated_at: now,
            },
            pending,
        )
    }

    /// The pending-compensation rule: the saga's end state must not depend on whether
    /// the rejection or the report came first.
    fn created(mut report: Self, pending: Option<CancellationReason>) -> Self {
        if let Some(reason) = pending {
            report.state = ReportState::Cancelado;
            report.cancellation_reason = Some(reason);
        }
        report
    }

    /// Attaches the campaign's contract and completes the report; declines (without an
    /// error, these are all normal deliveries) when it has nothing to do.
    pub fn attach_contract(
        &mut self,
        contract_id: ExternalId,
        total: Money,
        now: DateTime<Utc>,
    ) -> AttachOutcome {
        let now = at_storage_precision(now);
        if self.state == ReportState::Cancelado {
            return AttachOutcome::ReportCancelled;
        }
        match &self.contract {
            Some(attached) if attached.id == contract_id => AttachOutcome::AlreadyAttached,
            Some(attached) => AttachOutcome::OtherContractKept {
                attached: attached.id.clone(),
            },
            None => {
                // activo -> completado, or already completado: both allowed.
                let _ = advance(&mut self.state, ReportState::Completado);
                self.contract = Some(AttachedContract {
                    id: contract_id,
                    total,
                });
                self.updated_at = now;
                AttachOutcome::Completed
            }
        }
    }

    /// Makes this report the campaign's report when the campaign's event arrives after
    /// its contract's (SPEC section 7: the end state must not depend on delivery order).
    ///
    /// A contract report takes the campaign's identity (`campana`, its name, influencer
    /// and `datos_origen`), keeps its id, creation time and contract, and so becomes
    /// `completado`: exactly what the campaign report becomes when the contract arrives
    /// second. A campaign report is left as it is (a duplicate event: the first wins);
    /// a cancelled report never changes again.
    pub fn absorb_campaign(
        &mut self,
        input: CampaignReportInput,
        now: DateTime<Utc>,
    ) -> AbsorbOutcome {
        let now = at_storage_precision(now);
        if input.campaign_id != self.campaign_id {
            return AbsorbOutcome::OtherCampaign;
        }
        if self.state == ReportState::Cancelado {
            return AbsorbOutcome::ReportCancelled;
        }
        if self.report_type == ReportType::Campana {
            return AbsorbOutcome::AlreadyCampaignReport;
        }
        self.report_type = ReportType::Campana;
        self.name = campaign_report_name(&input);
        self.influencer_id = input.influencer_id;
        self.source_data = input.source_data;
        if self.contract.is_some() {
            // activo -> completado, or already completado: both allowed.
            let _ = advance(&mut self.state, ReportState::Completado);
        }
        self.updated_at = now;
        AbsorbOutcome::Absorbed
    }

    /// The saga's compensation: `cancelado` with `motivo`, from `activo` or
    /// `completado`; terminal. Idempotent: a second cancellation changes nothing.
    pub fn cancel(&mut self, reason: CancellationReason, now: DateTime<Utc>) -> CancelOutcome {
        let now = at_storage_precision(now);
        if self.state == ReportState::Cancelado {
            return CancelOutcome::AlreadyCancelled;
        }
        // Every other state may be cancelled.
        let _ = advance(&mut self.state, ReportState::Cancelado);
        self.cancellation_reason = Some(reason);
        self.updated_at = now;
        CancelOutcome::Cancelled
    }

    /// Rebuilds a stored report; its values were validated when first stored.
    pub fn restore(record: ReportRecord) -> Self {
        Self {
            id: record.id,
            report_type: record.report_type,
            name: record.name,
            state: record.state,
            campaign_id: record.campaign_id,
            influencer_id: record.influencer_id,
            contract: record.contract,
            source_data: record.source_data,
            cancellation_reason: record.cancellation_reason,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }

    pub fn into_record(self) -> ReportRecord {
        ReportRecord {
            id: self.id,
            report_type: self.report_type,
            name: self.name,
            state: self.state,
            campaign_id: self.campaign_id,
            influencer_id: self.influencer_id,
            contract: self.contract,
            source_data: self.source_data,
            cancellation_reason: self.cancellation_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn report_type(&self) -> ReportType {
        self.report_type
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> ReportState {
        self.state
    }

    pub fn campaign_id(&self) -> &ExternalId {
        &self.campaign_id
    }

    pub fn influencer_id(&self) -> Option<&ExternalId> {
        self.influencer_id.as_ref()
    }

    pub fn contract(&self) -> Option<&AttachedContract> {
        self.contract.as_ref()
    }

    /// `datos_origen`.
    pub fn source_data(&self) -> &Value {
        &self.source_data
    }

    /// `motivo`; set exactly when the report is `cancelado`.
    pub fn cancellation_reason(&self) -> Option<&CancellationReason> {
        self.cancellation_reason.as_ref()
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

/// "Reporte de campaña: {nombre}"; a campaign without a usable name is named by its id.
fn campaign_report_name(input: &CampaignReportInput) -> String {
    let label = input
        .campaign_name
        .as_deref()
        .map(printable)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| input.campaign_id.to_string());
    format!("Reporte de campaña: {label}")
}

/// A name from another producer, made fit for a title: one line, bounded.
fn printable(raw: &str) -> String {
    let line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.trim().chars().take(CampaignName::MAX_CHARS).collect()
}

#[cfg(test)]
mod tests;
