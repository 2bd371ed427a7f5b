//! Reports and pending compensations (context `reportes`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::{
    Page, StoreError,
    rows::{enum_value, money, parse, parse_opt},
};
use crate::domain::{
    AttachedContract, CancellationReason, ExternalId, Report, ReportRecord, ReportState, ReportType,
};

/// Filters of `GET /reportes`.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub campaign_id: Option<String>,
    pub state: Option<ReportState>,
    pub report_type: Option<ReportType>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tipo_reporte: String,
    nombre: String,
    estado: String,
    campaign_id: String,
    influencer_id: Option<String>,
    contract_id: Option<String>,
    monto_total: Option<Decimal>,
    moneda: Option<String>,
    motivo: Option<String>,
    datos_origen: Json<Value>,
    fecha_creacion: DateTime<Utc>,
    fecha_actualizacion: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, tipo_reporte, nombre, estado, campaign_id, influencer_id, contract_id, \
         monto_total, moneda, motivo, datos_origen, fecha_creacion, fecha_actualizacion"
    };
}

impl TryFrom<Row> for Report {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let contract = match (row.contract_id, row.monto_total, row.moneda) {
            (Some(id), Some(amount), Some(currency)) => Some(AttachedContract {
                id: parse("contract_id", &id, ExternalId::parse)?,
                total: money("monto_total", amount, &currency)?,
            }),
            _ => None,
        };
        Ok(Report::restore(ReportRecord {
            id: row.id,
            report_type: enum_value("tipo_reporte", &row.tipo_reporte)?,
            name: row.nombre,
            state: enum_value("estado", &row.estado)?,
            campaign_id: parse("campaign_id", &row.campaign_id, ExternalId::parse)?,
            influencer_id: parse_opt(
                "influencer_id",
                row.influencer_id.as_deref(),
                ExternalId::parse,
            )?,
            contract,
            source_data: row.datos_origen.0,
            cancellation_reason: parse_opt(
                "motivo",
                row.motivo.as_deref(),
                CancellationReason::parse,
            )?,
            created_at: row.fecha_creacion,
            updated_at: row.fecha_actualizacion,
        }))
    }
}

/// Stores a new report. A second report for the campaign is `Conflict(ReportPerCampaign)`.
pub async fn insert(tx: &mut PgConnection, report: &Report) -> Result<(), StoreError> {
    let contract = report.contract();
    sqlx::query(
        "INSERT INTO reports (id, tipo_reporte, nombre, estado, campaign_id, influencer_id,
             contract_id, monto_total, moneda, motivo, datos_origen, fecha_creacion,
             fecha_actualizacion)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(report.id())
    .bind(report.report_type().as_str())
    .bind(report.name())
    .bind(report.state().as_str())
    .bind(report.campaign_id().as_str())
    .bind(report.influencer_id().map(ExternalId::as_str))
    .bind(contract.map(|contract| contract.id.as_str()))
    .bind(contract.map(|contract| contract.total.amount()))
    .bind(contract.map(|contract| contract.total.currency().to_string()))
    .bind(report.cancellation_reason().map(CancellationReason::as_str))
    .bind(Json(report.source_data()))
    .bind(report.created_at())
    .bind(report.updated_at())
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes back every mutable field of `report` (state, contract, reason, and what a late
/// campaign event may fill in: type, name, influencer, source data).
pub async fn update(tx: &mut PgConnection, report: &Report) -> Result<(), StoreError> {
    let contract = report.contract();
    let updated = sqlx::query(
        "UPDATE reports SET tipo_reporte = $2, nombre = $3, estado = $4, influencer_id = $5,
             contract_id = $6, monto_total = $7, moneda = $8, motivo = $9, datos_origen = $10,
             fecha_actualizacion = $11
         WHERE id = $1",
    )
    .bind(report.id())
    .bind(report.report_type().as_str())
    .bind(report.name())
    .bind(report.state().as_str())
    .bind(report.influencer_id().map(ExternalId::as_str))
    .bind(contract.map(|contract| contract.id.as_str()))
    .bind(contract.map(|contract| contract.total.amount()))
    .bind(contract.map(|contract| contract.total.currency().to_string()))
    .bind(report.cancellation_reason().map(CancellationReason::as_str))
    .bind(Json(report.source_data()))
    .bind(report.updated_at())
    .execute(tx)
    .await?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "report {} vanished while updated",
            report.id()
        )))
    }
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Report>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM reports WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Report::try_from).transpose()
}

/// Locks and returns a report for update, in the caller's transaction.
pub async fn find_for_update(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Report>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM reports WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await?;
    row.map(Report::try_from).transpose()
}

/// First key of the advisory locks taken by [`lock_campaign`] ("REPT"), so they never
/// collide with another use of advisory locks in a shared database.
const CAMPAIGN_LOCK_CLASS: i32 = 0x5245_5054;

/// Serializes, until the caller's transaction ends, everything that decides about one
/// campaign's report: creating it, completing it, cancelling it, or remembering a
/// compensation for it when it does not exist yet.
///
/// A row lock cannot guard a report that does not exist yet: without this, a
/// compensation that finds no report (and records a pending one) and a report creation
/// that finds no pending compensation could both commit, leaving an active report whose
/// compensation is never applied. Take it before reading the report or the pending
/// compensation.
pub async fn lock_campaign(tx: &mut PgConnection, campaign_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(CAMPAIGN_LOCK_CLASS)
        .bind(campaign_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Locks and returns the report of a campaign, in the caller's transaction: concurrent
/// events about one campaign apply one after the other.
pub async fn find_by_campaign_for_update(
    tx: &mut PgConnection,
    campaign_id: &str,
) -> Result<Option<Report>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM reports WHERE campaign_id = $1 FOR UPDATE"
    ))
    .bind(campaign_id)
    .fetch_optional(tx)
    .await?;
    row.map(Report::try_from).transpose()
}

/// Reports in creation order (`fecha_creacion`, then `id`).
pub async fn list(
    conn: &mut PgConnection,
    filter: &ReportFilter,
    page: Page,
) -> Result<Vec<Report>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM reports
         WHERE ($1::text IS NULL OR campaign_id = $1)
           AND ($2::text IS NULL OR estado = $2)
           AND ($3::text IS NULL OR tipo_reporte = $3)
         ORDER BY fecha_creacion, id
         LIMIT $4 OFFSET $5"
    ))
    .bind(filter.campaign_id.as_deref())
    .bind(filter.state.map(ReportState::as_str))
    .bind(filter.report_type.map(ReportType::as_str))
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Report::try_from).collect()
}

/// Remembers that the campaign's contract step failed before its report existed. The
/// first reason wins; returns whether this call recorded it.
pub async fn record_pending_compensation(
    tx: &mut PgConnection,
    campaign_id: &str,
    reason: &CancellationReason,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO pending_compensations (campaign_id, motivo) VALUES ($1, $2)
         ON CONFLICT (campaign_id) DO NOTHING",
    )
    .bind(campaign_id)
    .bind(reason.as_str())
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The compensation waiting for the campaign's report, if any.
pub async fn pending_compensation(
    conn: &mut PgConnection,
    campaign_id: &str,
) -> Result<Option<CancellationReason>, StoreError> {
    let motivo: Option<String> =
        sqlx::query_scalar("SELECT motivo FROM pending_compensations WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_optional(conn)
            .await?;
    parse_opt("motivo", motivo.as_deref(), CancellationReason::parse)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::{
        PgPool,
        postgres::{PgConnectOptions, PgPoolOptions},
    };

    use super::*;
    use crate::store::{self, Context, DatabaseSettings};

    /// Takes the campaign's lock in another transaction, then lets it go.
    fn lock_elsewhere(pool: &PgPool, campaign_id: &'static str) -> tokio::task::JoinHandle<()> {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            lock_campaign(&mut tx, campaign_id).await.unwrap();
            tx.rollback().await.unwrap();
        })
    }

    #[sqlx::test(migrator = "crate::store::MIGRATOR")]
    async fn a_campaign_lock_holds_that_campaign_until_the_transaction_ends(
        _: PgPoolOptions,
        connect: PgConnectOptions,
    ) {
        let pool = store::pool(&DatabaseSettings::new(connect), Context::Reportes);
        let mut holder = pool.begin().await.unwrap();
        lock_campaign(&mut holder, "camp-1").await.unwrap();

        let same_campaign = lock_elsewhere(&pool, "camp-1");
        let other_campaign = lock_elsewhere(&pool, "camp-2");
        tokio::time::timeout(Duration::from_secs(5), other_campaign)
            .await
            .expect("another campaign is not held")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!same_campaign.is_finished(), "the same campaign waits");

        holder.commit().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), same_campaign)
            .await
            .expect("released at commit")
            .unwrap();
    }
}
