//! Campaigns (context `alpes`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Page, StoreError,
    rows::{corrupt, enum_value, money, parse, parse_opt},
};
use crate::domain::{
    Campaign, CampaignInfluencer, CampaignName, CampaignRecord, CampaignState, Categories, Email,
    ExternalId, LongText, PersonName,
};

/// Filters of `GET /campanas`.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    pub state: Option<CampaignState>,
    pub influencer_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    nombre: String,
    descripcion: String,
    tipo_comision: String,
    valor_comision: Decimal,
    moneda: String,
    categorias_objetivo: Vec<String>,
    fecha_inicio: DateTime<Utc>,
    fecha_fin: Option<DateTime<Utc>>,
    influencer_id: Option<String>,
    influencer_nombre: Option<String>,
    influencer_email: Option<String>,
    tipo_contrato: String,
    monto_base: Decimal,
    entregables: Option<String>,
    bienvenida: bool,
    estado: String,
    fecha_creacion: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, nombre, descripcion, tipo_comision, valor_comision, moneda, categorias_objetivo, \
         fecha_inicio, fecha_fin, influencer_id, influencer_nombre, influencer_email, \
         tipo_contrato, monto_base, entregables, bienvenida, estado, fecha_creacion"
    };
}

impl TryFrom<Row> for Campaign {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let influencer = match (
            row.influencer_id,
            row.influencer_nombre,
            row.influencer_email,
        ) {
            (Some(id), Some(name), Some(email)) => Some(CampaignInfluencer {
                id: parse("influencer_id", &id, ExternalId::parse)?,
                name: parse("influencer_nombre", &name, PersonName::parse)?,
                email: parse("influencer_email", &email, Email::parse)?,
            }),
            _ => None,
        };
        let campaign = Campaign::restore(CampaignRecord {
            id: row.id,
            name: parse("nombre", &row.nombre, CampaignName::parse)?,
            description: parse("descripcion", &row.descripcion, LongText::parse)?,
            commission_type: enum_value("tipo_comision", &row.tipo_comision)?,
            commission: money("valor_comision", row.valor_comision, &row.moneda)?,
            target_categories: Categories::parse_allowing_empty(
                "categorias_objetivo",
                &row.categorias_objetivo,
            )
            .map_err(|error| corrupt("categorias_objetivo", error))?,
            start_date: row.fecha_inicio,
            end_date: row.fecha_fin,
            influencer,
            contract_type: enum_value("tipo_contrato", &row.tipo_contrato)?,
            base_amount: money("monto_base", row.monto_base, &row.moneda)?,
            deliverables: parse_opt("entregables", row.entregables.as_deref(), LongText::parse)?,
            welcome: row.bienvenida,
            state: enum_value("estado", &row.estado)?,
            created_at: row.fecha_creacion,
        });
        Ok(campaign)
    }
}

/// Stores a new campaign. A second welcome campaign for the same influencer is
/// `Conflict(WelcomeCampaign)`.
pub async fn insert(tx: &mut PgConnection, campaign: &Campaign) -> Result<(), StoreError> {
    let influencer = campaign.influencer();
    sqlx::query(
        "INSERT INTO campaigns (id, nombre, descripcion, tipo_comision, valor_comision, moneda,
             categorias_objetivo, fecha_inicio, fecha_fin, influencer_id, influencer_nombre,
             influencer_email, tipo_contrato, monto_base, entregables, bienvenida, estado,
             fecha_creacion, fecha_actualizacion)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $18)",
    )
    .bind(campaign.id())
    .bind(campaign.name().as_str())
    .bind(campaign.description().as_str())
    .bind(campaign.commission_type().as_str())
    .bind(campaign.commission().amount())
    .bind(campaign.currency().as_str())
    .bind(campaign.target_categories().as_slice())
    .bind(campaign.start_date())
    .bind(campaign.end_date())
    .bind(influencer.map(|influencer| influencer.id.as_str()))
    .bind(influencer.map(|influencer| influencer.name.as_str()))
    .bind(influencer.map(|influencer| influencer.email.as_str()))
    .bind(campaign.contract_type().as_str())
    .bind(campaign.base_amount().amount())
    .bind(campaign.deliverables().map(LongText::as_str))
    .bind(campaign.is_welcome())
    .bind(campaign.state().as_str())
    .bind(campaign.created_at())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Campaign>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM campaigns WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Campaign::try_from).transpose()
}

/// The welcome campaign of an influencer, if it has one.
pub async fn find_welcome(
    conn: &mut PgConnection,
    influencer_id: &str,
) -> Result<Option<Campaign>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM campaigns WHERE influencer_id = $1 AND bienvenida"
    ))
    .bind(influencer_id)
    .fetch_optional(conn)
    .await?;
    row.map(Campaign::try_from).transpose()
}

/// Campaigns in creation order (`fecha_creacion`, then `id`).
pub async fn list(
    conn: &mut PgConnection,
    filter: &CampaignFilter,
    page: Page,
) -> Result<Vec<Campaign>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM campaigns
         WHERE ($1::text IS NULL OR estado = $1)
           AND ($2::text IS NULL OR influencer_id = $2)
         ORDER BY fecha_creacion, id
         LIMIT $3 OFFSET $4"
    ))
    .bind(filter.state.map(CampaignState::as_str))
    .bind(filter.influencer_id.as_deref())
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Campaign::try_from).collect()
}
