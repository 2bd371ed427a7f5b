//! Influencers (context `alpes`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Page, StoreError,
    rows::{corrupt, enum_value, parse, parse_opt},
};
use crate::domain::{
    Categories, Email, Influencer, InfluencerRecord, InfluencerState, LongText, PersonName, Phone,
    Platform, Platforms, WebsiteUrl,
};

/// Filters of `GET /influencers`.
#[derive(Debug, Clone, Default)]
pub struct InfluencerFilter {
    pub category: Option<String>,
    pub state: Option<InfluencerState>,
    /// Only influencers publishing on this platform.
    pub platform: Option<Platform>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    nombre: String,
    email: String,
    categorias: Vec<String>,
    plataformas: Vec<String>,
    descripcion: Option<String>,
    biografia: Option<String>,
    sitio_web: Option<String>,
    telefono: Option<String>,
    estado: String,
    fecha_creacion: DateTime<Utc>,
}

/// The selected columns, as a literal so every statement is a compile-time constant.
macro_rules! columns {
    () => {
        "id, nombre, email, categorias, plataformas, descripcion, biografia, sitio_web, \
         telefono, estado, fecha_creacion"
    };
}

impl TryFrom<Row> for Influencer {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let influencer = Influencer::restore(InfluencerRecord {
            id: row.id,
            name: parse("nombre", &row.nombre, PersonName::parse)?,
            email: parse("email", &row.email, Email::parse)?,
            categories: Categories::parse("categorias", &row.categorias)
                .map_err(|error| corrupt("categorias", error))?,
            platforms: Platforms::parse("plataformas", &row.plataformas)
                .map_err(|error| corrupt("plataformas", error))?,
            description: parse_opt("descripcion", row.descripcion.as_deref(), LongText::parse)?,
            biography: parse_opt("biografia", row.biografia.as_deref(), LongText::parse)?,
            website: parse_opt("sitio_web", row.sitio_web.as_deref(), WebsiteUrl::parse)?,
            phone: parse_opt("telefono", row.telefono.as_deref(), Phone::parse)?,
            state: enum_value("estado", &row.estado)?,
            created_at: row.fecha_creacion,
        });
        Ok(influencer)
    }
}

/// Stores a new influencer. A taken email is `Conflict(InfluencerEmail)`, a taken id
/// `Conflict(PrimaryKey)`: the database decides, so concurrent registrations cannot both win.
pub async fn insert(tx: &mut PgConnection, influencer: &Influencer) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO influencers (id, nombre, email, categorias, plataformas, descripcion,
             biografia, sitio_web, telefono, estado, fecha_creacion, fecha_actualizacion)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(influencer.id())
    .bind(influencer.name().as_str())
    .bind(influencer.email().as_str())
    .bind(influencer.categories().as_slice())
    .bind(influencer.platforms().as_strs())
    .bind(influencer.description().map(LongText::as_str))
    .bind(influencer.biography().map(LongText::as_str))
    .bind(influencer.website().map(WebsiteUrl::as_str))
    .bind(influencer.phone().map(Phone::as_str))
    .bind(influencer.state().as_str())
    .bind(influencer.created_at())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Influencer>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM influencers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Influencer::try_from).transpose()
}

pub async fn find_by_email(
    conn: &mut PgConnection,
    email: &Email,
) -> Result<Option<Influencer>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM influencers WHERE email = $1"
    ))
    .bind(email.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(Influencer::try_from).transpose()
}

/// Influencers in creation order (`fecha_creacion`, then `id`).
pub async fn list(
    conn: &mut PgConnection,
    filter: &InfluencerFilter,
    page: Page,
) -> Result<Vec<Influencer>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM influencers
         WHERE ($1::text IS NULL OR categorias @> ARRAY[$1::text])
           AND ($2::text IS NULL OR estado = $2)
           AND ($5::text IS NULL OR plataformas @> ARRAY[$5::text])
         ORDER BY fecha_creacion, id
         LIMIT $3 OFFSET $4"
    ))
    .bind(filter.category.as_deref())
    .bind(filter.state.map(InfluencerState::as_str))
    .bind(page.limit)
    .bind(page.offset)
    .bind(filter.platform.map(Platform::as_str))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Influencer::try_from).collect()
}
