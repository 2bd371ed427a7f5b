//! Contracts (context `alpes`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Page, StoreError,
    rows::{enum_value, money, parse, parse_opt},
};
use crate::domain::{Contract, ContractRecord, ContractState, ExternalId, LongText};

/// Filters of `GET /contratos`.
#[derive(Debug, Clone, Default)]
pub struct ContractFilter {
    pub influencer_id: Option<String>,
    pub campaign_id: Option<String>,
    pub state: Option<ContractState>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    influencer_id: String,
    campaign_id: String,
    monto_total: Decimal,
    moneda: String,
    tipo_contrato: String,
    fecha_inicio: Option<DateTime<Utc>>,
    fecha_fin: Option<DateTime<Utc>>,
    entregables: Option<String>,
    estado: String,
    fecha_creacion: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, influencer_id, campaign_id, monto_total, moneda, tipo_contrato, fecha_inicio, \
         fecha_fin, entregables, estado, fecha_creacion"
    };
}

impl TryFrom<Row> for Contract {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let contract = Contract::restore(ContractRecord {
            id: row.id,
            influencer_id: parse("influencer_id", &row.influencer_id, ExternalId::parse)?,
            campaign_id: parse("campaign_id", &row.campaign_id, ExternalId::parse)?,
            total: money("monto_total", row.monto_total, &row.moneda)?,
            contract_type: enum_value("tipo_contrato", &row.tipo_contrato)?,
            start_date: row.fecha_inicio,
            end_date: row.fecha_fin,
            deliverables: parse_opt("entregables", row.entregables.as_deref(), LongText::parse)?,
            state: enum_value("estado", &row.estado)?,
            created_at: row.fecha_creacion,
        });
        Ok(contract)
    }
}

/// Stores a new contract. The database backs both contract rules, so two concurrent
/// signings cannot both win: a second contract for the pair is
/// `Conflict(ContractPerInfluencerAndCampaign)`, a second active exclusive one
/// `Conflict(ActiveExclusiveContract)`.
pub async fn insert(tx: &mut PgConnection, contract: &Contract) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO contracts (id, influencer_id, campaign_id, monto_total, moneda,
             tipo_contrato, fecha_inicio, fecha_fin, entregables, estado, fecha_creacion,
             fecha_actualizacion)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(contract.id())
    .bind(contract.influencer_id().as_str())
    .bind(contract.campaign_id().as_str())
    .bind(contract.total().amount())
    .bind(contract.total().currency().as_str())
    .bind(contract.contract_type().as_str())
    .bind(contract.start_date())
    .bind(contract.end_date())
    .bind(contract.deliverables().map(LongText::as_str))
    .bind(contract.state().as_str())
    .bind(contract.created_at())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Contract>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM contracts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Contract::try_from).transpose()
}

/// Every contract of an influencer, what `check_can_sign` decides on.
pub async fn for_influencer(
    conn: &mut PgConnection,
    influencer_id: &str,
) -> Result<Vec<Contract>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM contracts WHERE influencer_id = $1 ORDER BY fecha_creacion, id"
    ))
    .bind(influencer_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Contract::try_from).collect()
}

/// Contracts in creation order (`fecha_creacion`, then `id`).
pub async fn list(
    conn: &mut PgConnection,
    filter: &ContractFilter,
    page: Page,
) -> Result<Vec<Contract>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM contracts
         WHERE ($1::text IS NULL OR influencer_id = $1)
           AND ($2::text IS NULL OR campaign_id = $2)
           AND ($3::text IS NULL OR estado = $3)
         ORDER BY fecha_creacion, id
         LIMIT $4 OFFSET $5"
    ))
    .bind(filter.influencer_id.as_deref())
    .bind(filter.campaign_id.as_deref())
    .bind(filter.state.map(ContractState::as_str))
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Contract::try_from).collect()
}
