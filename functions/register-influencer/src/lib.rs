//! register-influencer: `POST /influencers`, `GET /influencers[/{id}]`, and the
//! `EventoCrearInfluencer` command of the existing tools. Emits
//! `EventoInfluencerRegistrado` on `eventos-influencers`.

use std::sync::Arc;

use alpes_shared::{
    domain::{Influencer, NewInfluencer, ValidationErrors},
    events::{EventMetadata, InfluencerRegistradoPayload, IntegrationEvent, Topic, convert},
    http::created::{check_replay, created, replayed},
    http::{
        ApiError, CreateRequest, EventDelivery, EventError, EventHandler, Handled, ListQuery,
        Runtime, events_router,
        openapi::{self, CategorySchema, InfluencerStateSchema, PageParams, PlatformSchema},
    },
    store::{
        Constraint, StoreError, inbox, influencers,
        outbox::{Enqueued, OutboxMessage},
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    response::Response,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

pub const NAME: &str = "register-influencer";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let commands = Arc::new(Commands {
        runtime: runtime.clone(),
    });
    let api = Router::new()
        .route("/influencers", get(list).post(register))
        // The existing system's routes, served by the same handlers and rules.
        .route("/influencers/", get(list_seed))
        .route("/influencers/registrar-comando", post(register_command))
        .route("/influencers/{id}", get(find))
        .route(
            "/openapi.json",
            openapi::route(ApiDoc::openapi, commands.topics()),
        )
        .route(
            "/spec",
            openapi::spec_route(ApiDoc::openapi, commands.topics()),
        )
        .with_state(runtime.clone());
    let events = events_router(commands, runtime.push_auth.clone());
    runtime.router(api.merge(events))
}

/// This function's API, for `GET /openapi.json` (the shared endpoints are added by
/// [`openapi::document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "Registers influencers (`POST /influencers`, and the `EventoCrearInfluencer` command of the existing tools) and serves them back. Announces each one with `EventoInfluencerRegistrado` on `eventos-influencers`."
    ),
    paths(register, list, find, register_command, list_seed),
    tags((name = "influencers", description = "Influencers of the platform"))
)]
struct ApiDoc;

/// An influencer as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Influencer)]
pub struct InfluencerBody {
    id: Uuid,
    nombre: String,
    /// Lower-cased.
    #[schema(format = Email)]
    email: String,
    /// Lower-cased, without duplicates.
    categorias: Vec<String>,
    #[schema(value_type = Vec<PlatformSchema>)]
    plataformas: Vec<&'static str>,
    descripcion: Option<String>,
    biografia: Option<String>,
    #[schema(format = "uri")]
    sitio_web: Option<String>,
    telefono: Option<String>,
    /// `pendiente` when registered.
    #[schema(value_type = InfluencerStateSchema)]
    estado: &'static str,
    fecha_creacion: DateTime<Utc>,
}

/// A `POST /influencers` body.
///
/// Documentation only: the handler reads the body leniently (`NewInfluencer`), so that
/// one 422 lists every refused field.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a87",
    "nombre": "Ana Pérez",
    "email": "ana@example.com",
    "categorias": ["moda", "viajes"],
    "plataformas": ["instagram", "tiktok"],
    "descripcion": "Moda sostenible",
    "biografia": "Creadora de contenido desde 2015.",
    "sitio_web": "https://ana.example.com",
    "telefono": "+34 600 123 456"
}))]
#[allow(dead_code)]
// describes a body, never built
// Unknown fields are refused (422): `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct RegisterInfluencerRequest {
    /// The influencer's id, and the request's idempotency key: the same `id` with the same
    /// body answers 200 with the stored influencer, with another body 409. Without it the
    /// server assigns a UUID v7.
    id: Option<Uuid>,
    /// 1..=200 characters after trimming.
    #[schema(min_length = 1, pattern = "text:required:line:200")]
    nombre: String,
    /// A valid address, stored lower-cased; unique (409 when another influencer has it).
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 1..=10 non-empty categories (100 characters at most each), stored lower-cased,
    /// duplicates removed.
    #[schema(min_items = 1, max_items = 10, inline)]
    categorias: Vec<CategorySchema>,
    /// Where the influencer publishes.
    plataformas: Option<Vec<openapi::PlatformInput>>,
    #[schema(pattern = "text:optional:long:2000")]
    descripcion: Option<String>,
    #[schema(pattern = "text:optional:long:2000")]
    biografia: Option<String>,
    /// An http(s) URL.
    #[schema(format = "uri", max_length = 2048)]
    sitio_web: Option<String>,
    /// 7..=15 digits; spaces, dashes, parentheses and a leading `+` allowed, surrounding
    /// whitespace trimmed; blank is absent.
    #[schema(pattern = "text:phone:optional")]
    telefono: Option<String>,
}

/// The filters of `GET /influencers`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `list` reads from its `ListQuery`
pub struct InfluencerFilters {
    /// Only influencers with this category (any case).
    #[param(pattern = "^[^\\u0000]*$")]
    categoria: Option<String>,
    /// Only influencers in this state; an unknown state is 422.
    #[param(inline)]
    estado: Option<openapi::InfluencerStateInput>,
    /// Only influencers publishing on this platform; an unknown platform is 422.
    #[param(inline)]
    plataforma: Option<openapi::PlatformInput>,
}

/// A `POST /influencers/registrar-comando` body: the existing system's command, the
/// fields of `POST /influencers` it knew (same rules).
#[derive(ToSchema)]
#[schema(example = json!({
    "nombre": "Ana Pérez",
    "email": "ana@example.com",
    "categorias": ["moda", "viajes"],
    "descripcion": "Moda sostenible",
    "biografia": "Creadora de contenido desde 2015.",
    "sitio_web": "https://ana.example.com",
    "telefono": "+34 600 123 456"
}))]
#[allow(dead_code)]
// describes a body, never built
// Unknown fields are refused (422): `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct RegisterCommandRequest {
    /// As in `POST /influencers` (the existing system sent none).
    id: Option<Uuid>,
    /// 1..=200 characters after trimming.
    #[schema(min_length = 1, pattern = "text:required:line:200")]
    nombre: String,
    /// A valid address, stored lower-cased; unique (409 when another influencer has it).
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 1..=10 non-empty categories (100 characters at most each), stored lower-cased,
    /// duplicates removed.
    #[schema(min_items = 1, max_items = 10, inline)]
    categorias: Vec<CategorySchema>,
    /// As in `POST /influencers` (the existing system sent none).
    plataformas: Option<Vec<openapi::PlatformInput>>,
    #[schema(pattern = "text:optional:long:2000")]
    descripcion: Option<String>,
    #[schema(pattern = "text:optional:long:2000")]
    biografia: Option<String>,
    /// An http(s) URL.
    #[schema(format = "uri", max_length = 2048)]
    sitio_web: Option<String>,
    /// 7..=15 digits; spaces, dashes, parentheses and a leading `+` allowed, surrounding
    /// whitespace trimmed; blank is absent.
    #[schema(pattern = "text:phone:optional")]
    telefono: Option<String>,
}

/// The existing system's answer to a registration command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandAccepted {
    #[schema(example = "Comando procesado")]
    mensaje: &'static str,
    /// The registered influencer's id.
    comando_id: Uuid,
}

impl From<&Influencer> for InfluencerBody {
    fn from(influencer: &Influencer) -> Self {
        Self {
            id: influencer.id(),
            nombre: influencer.name().to_string(),
            email: influencer.email().to_string(),
            categorias: influencer.categories().as_slice().to_vec(),
            plataformas: influencer.platforms().as_strs(),
            descripcion: influencer.description().map(ToString::to_string),
            biografia: influencer.biography().map(ToString::to_string),
            sitio_web: influencer.website().map(ToString::to_string),
            telefono: influencer.phone().map(ToString::to_string),
            estado: influencer.state().as_str(),
            fecha_creacion: influencer.created_at(),
        }
    }
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

/// Stores `influencer` and its announcement in one transaction. `creation_request` is
/// the API body (for idempotent replays); `caused_by` the command that asked for it.
#[tracing::instrument(name = "store influencer", skip_all, fields(db.system = "postgresql"))]
async fn store_new(
    runtime: &Runtime,
    influencer: &Influencer,
    creation_request: Option<&serde_json::Value>,
    caused_by: Option<&EventMetadata>,
    inbox_event: Option<&str>,
) -> Result<Option<Enqueued>, StoreError> {
    let event = registered_event(influencer);
    let metadata = match caused_by {
        Some(command) => command.follow_up(&event, NAME),
        None => EventMetadata::new(&event, influencer.id().to_string(), NAME),
    };
    let message = OutboxMessage::new(&event, &metadata)
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let mut tx = runtime.pool.begin().await?;
    if let Some(event_id) = inbox_event
        && !inbox::record(&mut tx, NAME, event_id).await?
    {
        return Ok(None);
    }
    influencers::insert(&mut tx, influencer, creation_request).await?;
    let enqueued = runtime.enqueue(&mut tx, message).await?;
    tx.commit().await?;
    Ok(Some(enqueued))
}

/// Registers an influencer.
///
/// `POST /influencers`: 201 with the influencer; 200 when the same `id` and body were
/// already registered; 409 for a taken email or an `id` used with another body.
#[utoipa::path(
    post,
    path = "/influencers",
    tag = "influencers",
    operation_id = "registerInfluencer",
    request_body = RegisterInfluencerRequest,
    responses(
        (status = 201, description = "Registered (`estado` `pendiente`)", body = InfluencerBody,
            headers(("Location" = String, description = "`/influencers/{id}`"))),
        (status = 200, description = "The same `id` and body were already registered: the stored influencer", body = InfluencerBody),
        openapi::BadRequest,
        openapi::Conflict,
        openapi::PayloadTooLarge,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn register(
    State(runtime): State<Runtime>,
    request: CreateRequest<NewInfluencer>,
) -> Result<Response, ApiError> {
    Ok(match registration(&runtime, request).await? {
        Registration::Created(influencer) => created(
            format!("/influencers/{}", influencer.id()),
            InfluencerBody::from(&influencer),
        ),
        Registration::Replayed(influencer) => replayed(InfluencerBody::from(&influencer)),
    })
}

/// Registers an influencer, as the existing system's command did.
///
/// `POST /influencers/registrar-comando`: `POST /influencers` (same rules, same 409 for a
/// taken email, same announcement), answered as the existing system did: 202 with the
/// influencer's id as `comando_id`.
#[utoipa::path(
    post,
    path = "/influencers/registrar-comando",
    tag = "influencers",
    operation_id = "registerInfluencerCommand",
    request_body = RegisterCommandRequest,
    responses(
        (status = 202, description = "Registered (or the same `id` and body already were)", body = CommandAccepted),
        openapi::BadRequest,
        openapi::Conflict,
        openapi::PayloadTooLarge,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn register_command(
    State(runtime): State<Runtime>,
    request: CreateRequest<NewInfluencer>,
) -> Result<Response, ApiError> {
    let (Registration::Created(influencer) | Registration::Replayed(influencer)) =
        registration(&runtime, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CommandAccepted {
            mensaje: "Comando procesado",
            comando_id: influencer.id(),
        }),
    )
        .into_response())
}

/// What a registration request did.
enum Registration {
    Created(Influencer),
    /// The same `id` and body were registered before: the stored influencer.
    Replayed(Influencer),
}

/// The one registration of an HTTP request (`POST /influencers` and its command form).
async fn registration(
    runtime: &Runtime,
    request: CreateRequest<NewInfluencer>,
) -> Result<Registration, ApiError> {
    let CreateRequest { id, input, body } = request;
    let influencer = Influencer::register(input, id.unwrap_or_else(Uuid::now_v7), Utc::now())?;
    let conflict = || ApiError::Conflict("the email belongs to another influencer".into());
    match store_new(runtime, &influencer, Some(&body), None, None).await {
        Ok(Some(enqueued)) => {
            runtime.publish_committed(vec![enqueued]).await;
            Ok(Registration::Created(influencer))
        }
        Ok(None) => unreachable!("no inbox check over HTTP"),
        Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => Ok(Registration::Replayed(
            replay(runtime, influencer.id(), &body).await?,
        )),
        // The same request replayed conflicts on the email too: check the id first.
        Err(StoreError::Conflict(Constraint::InfluencerEmail)) => match id {
            Some(id) => Ok(Registration::Replayed(
                replay(runtime, id, &body).await.map_err(|_| conflict())?,
            )),
            None => Err(conflict()),
        },
        Err(error) => Err(error.into()),
    }
}

/// The influencer an earlier request with this `id` registered, if that request had
/// the same body; a conflict otherwise.
async fn replay(
    runtime: &Runtime,
    id: Uuid,
    body: &serde_json::Value,
) -> Result<Influencer, ApiError> {
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let stored = influencers::find(&mut conn, id)
        .await?
        .map(|stored| (stored.influencer, stored.creation_request));
    check_replay("influencer", id, stored, body)
}

/// One influencer.
///
/// `GET /influencers/{id}`.
#[utoipa::path(
    get,
    path = "/influencers/{id}",
    tag = "influencers",
    operation_id = "getInfluencer",
    params(("id" = Uuid, Path, description = "The influencer's id")),
    responses(
        (status = 200, description = "The influencer", body = InfluencerBody),
        openapi::NotFound,
        openapi::ServerErrors,
    )
)]
async fn find(
    State(runtime): State<Runtime>,
    Path(id): Path<String>,
) -> Result<Json<InfluencerBody>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no influencer {id}"));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let stored = influencers::find(&mut conn, uuid)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(InfluencerBody::from(&stored.influencer)))
}

/// Lists influencers.
///
/// `GET /influencers?categoria=&estado=&plataforma=&limite=&offset=`, ordered by
/// `fecha_creacion` then `id`.
#[utoipa::path(
    get,
    path = "/influencers",
    tag = "influencers",
    operation_id = "listInfluencers",
    params(PageParams, InfluencerFilters),
    responses(
        (status = 200, description = "The page of influencers", body = Vec<InfluencerBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list(
    State(runtime): State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<InfluencerBody>>, ApiError> {
    let mut errors = ValidationErrors::new();
    let page = query.page(&mut errors);
    let filter = influencers::InfluencerFilter {
        category: query.text("categoria").map(str::to_lowercase),
        state: query.parsed("estado", &mut errors),
        platform: query.parsed("plataforma", &mut errors),
    };
    ListQuery::finish(errors, ())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let found = influencers::list(&mut conn, &filter, page).await?;
    Ok(Json(found.iter().map(InfluencerBody::from).collect()))
}

/// Lists influencers, at the existing system's path.
///
/// `GET /influencers/?estado=&categoria=&plataforma=&limite=&offset=`: `GET /influencers`.
#[utoipa::path(
    get,
    path = "/influencers/",
    tag = "influencers",
    operation_id = "listInfluencersSeed",
    params(PageParams, InfluencerFilters),
    responses(
        (status = 200, description = "The page of influencers", body = Vec<InfluencerBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list_seed(
    state: State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<InfluencerBody>>, ApiError> {
    list(state, query).await
}

/// The `EventoCrearInfluencer` command: registers like the API, with the command's `id`.
struct Commands {
    runtime: Runtime,
}

impl EventHandler for Commands {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::CrearInfluencer]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::CrearInfluencer(command) = delivery.event else {
            return Err(EventError::Permanent("not an EventoCrearInfluencer".into()));
        };
        let id = command
            .id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id.trim()).ok())
            .ok_or_else(|| EventError::Permanent(format!("id {:?} is not a UUID", command.id)))?;
        let input = NewInfluencer {
            name: command.nombre,
            email: command.email,
            categories: command.categorias,
            platforms: None,
            description: command.descripcion,
            biography: command.biografia,
            website: command.sitio_web,
            phone: command.telefono,
        };
        let influencer = Influencer::register(input, id, Utc::now())
            .map_err(|errors| EventError::Permanent(format!("invalid command: {errors}")))?;
        let event_id = delivery.metadata.event_id.to_string();
        match store_new(
            &self.runtime,
            &influencer,
            None,
            Some(&delivery.metadata),
            Some(&event_id),
        )
        .await
        {
            Ok(Some(enqueued)) => {
                self.runtime.publish_committed(vec![enqueued]).await;
                Ok(Handled::Applied)
            }
            Ok(None) => Ok(Handled::Duplicate),
            // The same influencer id again, under another event id: already registered.
            Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => Ok(Handled::Duplicate),
            Err(StoreError::Conflict(Constraint::InfluencerEmail)) => Err(EventError::Permanent(
                "the email belongs to another influencer".into(),
            )),
            Err(error) => Err(error.into()),
        }
    }
}
