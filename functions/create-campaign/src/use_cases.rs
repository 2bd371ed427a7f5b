//! The use cases: create a campaign (over the API), welcome a newly registered influencer
//! (by event), find, list. Typed commands in, typed outcomes out; no HTTP, JSON or broker
//! types.

use alpes_shared::{
    domain::{Campaign, CreateCampaign, ValidationErrors, WelcomeInfluencer},
    events::{CampanaCreadaPayload, EventMetadata, IntegrationEvent, convert},
    http::{Claimed, Origin, Runtime, Write},
    store::{
        Constraint, Page, StoreError,
        campaigns::{self, CampaignFilter},
        idempotency,
    },
};
use chrono::Utc;
use uuid::Uuid;

use crate::NAME;

/// What a creation did.
pub enum Created {
    Created(Campaign),
    /// The same create request (same `id`, same body) was answered before: its campaign.
    Replayed(Campaign),
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("invalid campaign: {0}")]
    Invalid(ValidationErrors),
    /// The id is taken: by another create request's body, or by a campaign created
    /// otherwise (`with_another_body` false).
    #[error("campaign {id} conflicts")]
    IdTaken { id: Uuid, with_another_body: bool },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a welcome did.
pub enum Welcomed {
    /// The welcome campaign, created.
    Created(Uuid),
    /// The same event was handled before, or the influencer already has its welcome
    /// campaign (announced again under another event id).
    AlreadyWelcomed,
}

/// Creates a campaign (`activa`) and announces it with `CampanaCreada`, in one
/// transaction.
#[tracing::instrument(name = "store campaign", skip_all, fields(db.system = "postgresql"))]
pub async fn create(
    runtime: &Runtime,
    command: CreateCampaign,
    claim: Option<&idempotency::Request>,
) -> Result<Created, CreateError> {
    let campaign =
        Campaign::create(command.details, command.id, Utc::now()).map_err(CreateError::Invalid)?;
    let id_taken = |with_another_body| CreateError::IdTaken {
        id: campaign.id(),
        with_another_body,
    };
    let write = match runtime.begin_api_write(claim).await? {
        Claimed::Write(write) => write,
        Claimed::Replay(id) => {
            let stored = find(runtime, id).await?.ok_or_else(|| id_taken(false))?;
            return Ok(Created::Replayed(stored));
        }
        Claimed::IdConflict(_) => return Err(id_taken(true)),
    };
    match store(write, &campaign, Origin::Api(claim)).await {
        Ok(()) => Ok(Created::Created(campaign)),
        Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => Err(id_taken(false)),
        Err(error) => Err(error.into()),
    }
}

/// The influencer's welcome campaign, exactly once however often (and under however many
/// event ids) its registration arrives: the unique index on welcome campaigns backs the
/// rule.
#[tracing::instrument(name = "store campaign", skip_all, fields(db.system = "postgresql"))]
pub async fn welcome(
    runtime: &Runtime,
    command: WelcomeInfluencer,
    cause: &EventMetadata,
) -> Result<Welcomed, StoreError> {
    let WelcomeInfluencer {
        influencer,
        categories,
    } = command;
    let campaign = Campaign::welcome_for(
        influencer.id,
        influencer.name,
        influencer.email,
        categories,
        Uuid::now_v7(),
        Utc::now(),
    );
    let Some(write) = runtime.begin_event_write(cause).await? else {
        return Ok(Welcomed::AlreadyWelcomed);
    };
    match store(write, &campaign, Origin::Event(cause)).await {
        Ok(()) => Ok(Welcomed::Created(campaign.id())),
        Err(StoreError::Conflict(Constraint::WelcomeCampaign)) => Ok(Welcomed::AlreadyWelcomed),
        Err(error) => Err(error),
    }
}

pub async fn find(runtime: &Runtime, id: Uuid) -> Result<Option<Campaign>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    campaigns::find(&mut conn, id).await
}

/// A page of campaigns, ordered by `fecha_creacion` then `id`.
pub async fn list(
    runtime: &Runtime,
    filter: &CampaignFilter,
    page: Page,
) -> Result<Vec<Campaign>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    campaigns::list(&mut conn, filter, page).await
}

/// Stores `campaign` and its announcement in `write`, and commits. An API campaign
/// starts its own saga (keyed by its id); an event's continues the event's.
async fn store(
    mut write: Write,
    campaign: &Campaign,
    origin: Origin<'_>,
) -> Result<(), StoreError> {
    campaigns::insert(write.conn(), campaign).await?;
    let event = created_event(campaign);
    let metadata = origin.metadata(&event, campaign.id().to_string(), NAME);
    write.announce(&event, &metadata).await?;
    write.commit().await
}

/// The `CampanaCreada` announcement of `campaign`.
fn created_event(campaign: &Campaign) -> IntegrationEvent {
    let influencer = campaign.influencer();
    IntegrationEvent::from(CampanaCreadaPayload {
        campana_id: Some(campaign.id().to_string()),
        nombre: Some(campaign.name().to_string()),
        descripcion: Some(campaign.description().to_string()),
        tipo_comision: Some(campaign.commission_type().as_str().to_owned()),
        valor_comision: Some(convert::money_to_wire(campaign.commission().amount())),
        moneda: Some(campaign.currency().to_string()),
        categorias_objetivo: Some(campaign.target_categories().as_slice().to_vec()),
        fecha_inicio: Some(convert::format_wire_datetime(campaign.start_date())),
        fecha_fin: campaign.end_date().map(convert::format_wire_datetime),
        influencer_id: influencer.map(|influencer| influencer.id.to_string()),
        influencer_nombre: influencer.map(|influencer| influencer.name.to_string()),
        influencer_email: influencer.map(|influencer| influencer.email.as_str().to_owned()),
        monto_base: Some(convert::money_to_wire(campaign.base_amount().amount())),
        entregables: campaign.deliverables().map(ToString::to_string),
        tipo_contrato: Some(campaign.contract_type().as_str().to_owned()),
        fecha_creacion: Some(convert::format_wire_datetime(campaign.created_at())),
    })
}
