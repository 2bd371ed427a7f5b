//! The use cases: register an influencer (over the API or by command), find, list.
//! Typed commands in, typed outcomes out; no HTTP, JSON or broker types.

use alpes_shared::{
    domain::{Influencer, RegisterInfluencer, ValidationErrors},
    events::{InfluencerRegistradoPayload, IntegrationEvent, convert},
    http::{Begun, Origin, Runtime},
    store::{
        Constraint, Page, StoreError,
        influencers::{self, InfluencerFilter},
    },
};
use chrono::Utc;
use uuid::Uuid;

use crate::NAME;

/// What a registration did.
pub enum Registered {
    Created(Influencer),
    /// The same create request (same `id`, same body) was answered before: its influencer.
    Replayed(Influencer),
    /// The same command event was handled before.
    AlreadyHandled,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid registration: {0}")]
    Invalid(ValidationErrors),
    #[error("the email belongs to another influencer")]
    EmailTaken,
    /// The id is taken: by another create request's body, or by an influencer a command
    /// registered (`with_another_body` false).
    #[error("influencer {id} conflicts")]
    IdTaken { id: Uuid, with_another_body: bool },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers an influencer (`pendiente`) and announces it with `InfluencerRegistrado`,
/// in one transaction.
#[tracing::instrument(name = "store influencer", skip_all, fields(db.system = "postgresql"))]
pub async fn register(
    runtime: &Runtime,
    command: RegisterInfluencer,
    origin: Origin<'_>,
) -> Result<Registered, RegisterError> {
    let influencer = Influencer::register(command.details, command.id, Utc::now())
        .map_err(RegisterError::Invalid)?;
    let id_taken = |with_another_body| RegisterError::IdTaken {
        id: influencer.id(),
        with_another_body,
    };
    let mut write = match runtime.begin_write(origin).await? {
        Begun::Write(write) => write,
        Begun::AlreadyHandled => return Ok(Registered::AlreadyHandled),
        Begun::Replay(id) => {
            return Ok(Registered::Replayed(
                find(runtime, id).await?.ok_or_else(|| id_taken(false))?,
            ));
        }
        Begun::IdConflict(_) => return Err(id_taken(true)),
    };
    match influencers::insert(write.conn(), &influencer).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => return Err(id_taken(false)),
        Err(StoreError::Conflict(Constraint::InfluencerEmail)) => {
            return Err(RegisterError::EmailTaken);
        }
        Err(error) => return Err(error.into()),
    }
    let event = registered_event(&influencer);
    let metadata = origin.metadata(&event, influencer.id().to_string(), NAME);
    write.announce(&event, &metadata).await?;
    write.commit().await?;
    Ok(Registered::Created(influencer))
}

pub async fn find(runtime: &Runtime, id: Uuid) -> Result<Option<Influencer>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    influencers::find(&mut conn, id).await
}

/// A page of influencers, ordered by `fecha_creacion` then `id`.
pub async fn list(
    runtime: &Runtime,
    filter: &InfluencerFilter,
    page: Page,
) -> Result<Vec<Influencer>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    influencers::list(&mut conn, filter, page).await
}

/// The `InfluencerRegistrado` announcement of `influencer`.
fn registered_event(influencer: &Influencer) -> IntegrationEvent {
    IntegrationEvent::from(InfluencerRegistradoPayload {
        id_influencer: Some(influencer.id().to_string()),
        nombre: Some(influencer.name().to_string()),
        email: Some(influencer.email().to_string()),
        categorias: Some(influencer.categories().as_slice().to_vec()),
        fecha_registro: Some(convert::epoch_millis(influencer.created_at())),
    })
}
