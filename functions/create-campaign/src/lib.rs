//! create-campaign: `POST /campanas`, `GET /campanas[/{id}]`, and one welcome campaign for
//! every `EventoInfluencerRegistrado`. Emits `EventoCampanaCreada` on `eventos-campanas`.
//!
//! An API campaign starts its own saga (`correlation_id` = the campaign id); a welcome
//! campaign continues the registration's (`follow_up`, so the influencer's id). The message
//! key is the campaign id. Amounts are JSON numbers in the API, exact decimals behind it.

use std::sync::Arc;

use alpes_shared::{
    domain::{
        Campaign, Categories, Email, ExternalId, FieldError, InvalidValue, Money, NewCampaign,
        PersonName, ValidationErrors,
    },
    events::{
        CampanaCreadaPayload, EventMetadata, InfluencerRegistradoPayload, IntegrationEvent, Topic,
        convert,
    },
    http::created::{check_replay, created, replayed},
    http::{
        ApiError, CreateRequest, EventDelivery, EventError, EventHandler, Handled, ListQuery,
        Runtime, events_router,
        openapi::{
            self, CampaignStateSchema, CategorySchema, CommissionTypeSchema, ContractTypeSchema,
            PageParams,
        },
    },
    store::{
        Constraint, StoreError, campaigns, inbox,
        outbox::{Enqueued, OutboxMessage},
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    response::Response,
    routing::get,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

pub const NAME: &str = "create-campaign";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let welcomes = Arc::new(Welcomes {
        runtime: runtime.clone(),
    });
    let api = Router::new()
        .route("/campanas", get(list).post(create))
        .route("/campanas/{id}", get(find))
        .route(
            "/openapi.json",
            openapi::route(ApiDoc::openapi, welcomes.topics()),
        )
        .route(
            "/spec",
            openapi::spec_route(ApiDoc::openapi, welcomes.topics()),
        )
        .with_state(runtime.clone());
    let events = events_router(welcomes, runtime.push_auth.clone());
    runtime.router(api.merge(events))
}

/// This function's API, for `GET /openapi.json` (the shared endpoints are added by
/// [`openapi::document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "Creates campaigns (`POST /campanas`, and one welcome campaign for every `EventoInfluencerRegistrado`) and serves them back. Announces each one with `EventoCampanaCreada` on `eventos-campanas`."
    ),
    paths(create, list, find),
    modifiers(&InfluencerTogether),
    tags((name = "campanas", description = "Campaigns"))
)]
struct ApiDoc;

/// The request's "together" rule (`influencer_id`, `influencer_nombre`, `influencer_email`)
/// in its schema.
struct InfluencerTogether;

impl utoipa::Modify for InfluencerTogether {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        openapi::together(
            api,
            "CreateCampaignRequest",
            &["influencer_id", "influencer_nombre", "influencer_email"],
        );
    }
}

/// A campaign as the API shows it. Amounts are JSON numbers, as clients send them; they
/// are exact two-place decimals in the domain and the database.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Campaign)]
pub struct CampaignBody {
    id: Uuid,
    nombre: String,
    descripcion: String,
    #[schema(value_type = CommissionTypeSchema)]
    tipo_comision: &'static str,
    valor_comision: f64,
    /// ISO 4217 code.
    moneda: String,
    categorias_objetivo: Vec<String>,
    fecha_inicio: DateTime<Utc>,
    fecha_fin: Option<DateTime<Utc>>,
    influencer_id: Option<String>,
    influencer_nombre: Option<String>,
    #[schema(format = Email)]
    influencer_email: Option<String>,
    #[schema(value_type = ContractTypeSchema)]
    tipo_contrato: &'static str,
    monto_base: f64,
    entregables: Option<String>,
    /// Whether this is the influencer's welcome campaign.
    bienvenida: bool,
    /// `activa` when created.
    #[schema(value_type = CampaignStateSchema)]
    estado: &'static str,
    fecha_creacion: DateTime<Utc>,
}

/// A `POST /campanas` body. Amounts take two decimal places at most.
///
/// Documentation only: the handler reads the body leniently (`NewCampaign`), so that
/// one 422 lists every refused field.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a88",
    "nombre": "Primavera 2026",
    "descripcion": "Colección de primavera",
    "tipo_comision": "cpa",
    "valor_comision": 150.5,
    "moneda": "EUR",
    "categorias_objetivo": ["moda"],
    "fecha_inicio": "2026-03-01T00:00:00Z",
    "fecha_fin": "2026-05-31T23:59:59Z",
    "influencer_id": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a87",
    "influencer_nombre": "Ana Pérez",
    "influencer_email": "ana@example.com",
    "tipo_contrato": "temporal",
    "monto_base": 1200,
    "entregables": "3 publicaciones y 5 historias"
}))]
#[allow(dead_code)]
// describes a body, never built
// Unknown fields are refused (422): `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct CreateCampaignRequest {
    /// The campaign's id, and the request's idempotency key: the same `id` with the same
    /// body answers 200 with the stored campaign, with another body 409. Without it the
    /// server assigns a UUID v7.
    id: Option<Uuid>,
    /// 1..=300 characters after trimming.
    #[schema(min_length = 1, pattern = "text:required:line:300")]
    nombre: String,
    #[schema(min_length = 1, pattern = "text:required:long:2000")]
    descripcion: String,
    /// Default `cpa`.
    tipo_comision: Option<openapi::CommissionTypeInput>,
    /// Greater than 0.
    #[schema(exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    valor_comision: f64,
    /// ISO 4217 code (three letters); default `USD`.
    #[schema(
        pattern = "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[A-Za-z]{3}[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$",
        default = "USD"
    )]
    moneda: Option<String>,
    /// Up to 10 categories, possibly none (the campaign targets everyone).
    #[schema(max_items = 10, inline)]
    categorias_objetivo: Option<Vec<CategorySchema>>,
    /// RFC 3339; default now (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_inicio: Option<DateTime<Utc>>,
    /// RFC 3339, after `fecha_inicio` (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_fin: Option<DateTime<Utc>>,
    /// The influencer the campaign is for; `influencer_id`, `influencer_nombre` and
    /// `influencer_email` come together or not at all.
    #[schema(pattern = "text:optional:line:200")]
    influencer_id: Option<String>,
    #[schema(pattern = "text:optional:line:200")]
    influencer_nombre: Option<String>,
    #[schema(format = Email)]
    influencer_email: Option<String>,
    /// Default `puntual`.
    tipo_contrato: Option<openapi::ContractTypeInput>,
    /// Greater than 0; default `valor_comision`.
    #[schema(exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    monto_base: Option<f64>,
    #[schema(pattern = "text:optional:long:2000")]
    entregables: Option<String>,
}

/// The filters of `GET /campanas`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `list` reads from its `ListQuery`
pub struct CampaignFilters {
    /// Only campaigns in this state; an unknown state is 422.
    #[param(inline)]
    estado: Option<openapi::CampaignStateInput>,
    /// Only campaigns for this influencer.
    #[param(pattern = "^[^\\u0000]*$")]
    influencer_id: Option<String>,
}

/// The JSON number of an amount: the nearest `f64` to the exact decimal, which prints back
/// as the same digits.
fn json_amount(money: Money) -> f64 {
    money.amount().to_string().parse().unwrap_or(f64::NAN)
}

impl From<&Campaign> for CampaignBody {
    fn from(campaign: &Campaign) -> Self {
        let influencer = campaign.influencer();
        Self {
            id: campaign.id(),
            nombre: campaign.name().to_string(),
            descripcion: campaign.description().to_string(),
            tipo_comision: campaign.commission_type().as_str(),
            valor_comision: json_amount(campaign.commission()),
            moneda: campaign.currency().to_string(),
            categorias_objetivo: campaign.target_categories().as_slice().to_vec(),
            fecha_inicio: campaign.start_date(),
            fecha_fin: campaign.end_date(),
            influencer_id: influencer.map(|influencer| influencer.id.to_string()),
            influencer_nombre: influencer.map(|influencer| influencer.name.to_string()),
            influencer_email: influencer.map(|influencer| influencer.email.as_str().to_owned()),
            tipo_contrato: campaign.contract_type().as_str(),
            monto_base: json_amount(campaign.base_amount()),
            entregables: campaign.deliverables().map(ToString::to_string),
            bienvenida: campaign.is_welcome(),
            estado: campaign.state().as_str(),
            fecha_creacion: campaign.created_at(),
        }
    }
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

/// Stores `campaign` and its announcement in one transaction. `creation_request` is the
/// API body (for idempotent replays); `caused_by` the event that asked for it, whose
/// saga the announcement continues; `inbox_event` the id recorded as processed.
#[tracing::instrument(name = "store campaign", skip_all, fields(db.system = "postgresql"))]
async fn store_new(
    runtime: &Runtime,
    campaign: &Campaign,
    creation_request: Option<&serde_json::Value>,
    caused_by: Option<&EventMetadata>,
    inbox_event: Option<&str>,
) -> Result<Option<Enqueued>, StoreError> {
    let event = created_event(campaign);
    let metadata = match caused_by {
        Some(cause) => cause.follow_up(&event, NAME),
        None => EventMetadata::new(&event, campaign.id().to_string(), NAME),
    };
    let message = OutboxMessage::new(&event, &metadata)
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let mut tx = runtime.pool.begin().await?;
    if let Some(event_id) = inbox_event
        && !inbox::record(&mut tx, NAME, event_id).await?
    {
        return Ok(None);
    }
    campaigns::insert(&mut tx, campaign, creation_request).await?;
    let enqueued = runtime.enqueue(&mut tx, message).await?;
    tx.commit().await?;
    Ok(Some(enqueued))
}

/// Creates a campaign.
///
/// `POST /campanas`: 201 with the campaign (`estado` `activa`); 200 when the same `id` and
/// body were already created; 409 for an `id` used with another body.
#[utoipa::path(
    post,
    path = "/campanas",
    tag = "campanas",
    operation_id = "createCampaign",
    request_body = CreateCampaignRequest,
    responses(
        (status = 201, description = "Created (`estado` `activa`)", body = CampaignBody,
            headers(("Location" = String, description = "`/campanas/{id}`"))),
        (status = 200, description = "The same `id` and body were already created: the stored campaign", body = CampaignBody),
        openapi::BadRequest,
        openapi::Conflict,
        openapi::PayloadTooLarge,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn create(
    State(runtime): State<Runtime>,
    request: CreateRequest<NewCampaign>,
) -> Result<Response, ApiError> {
    let CreateRequest { id, input, body } = request;
    let campaign = Campaign::create(input, id.unwrap_or_else(Uuid::now_v7), Utc::now())?;
    match store_new(&runtime, &campaign, Some(&body), None, None).await {
        Ok(Some(enqueued)) => {
            runtime.publish_committed(vec![enqueued]).await;
            Ok(created(
                format!("/campanas/{}", campaign.id()),
                CampaignBody::from(&campaign),
            ))
        }
        Ok(None) => unreachable!("no inbox check over HTTP"),
        Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => {
            let stored = replay(&runtime, campaign.id(), &body).await?;
            Ok(replayed(CampaignBody::from(&stored)))
        }
        Err(error) => Err(error.into()),
    }
}

/// The campaign an earlier request with this `id` created, if that request had the same
/// body; a conflict otherwise (also when an event created it).
async fn replay(
    runtime: &Runtime,
    id: Uuid,
    body: &serde_json::Value,
) -> Result<Campaign, ApiError> {
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let stored = campaigns::find(&mut conn, id)
        .await?
        .map(|stored| (stored.campaign, stored.creation_request));
    check_replay("campaign", id, stored, body)
}

/// One campaign.
///
/// `GET /campanas/{id}`.
#[utoipa::path(
    get,
    path = "/campanas/{id}",
    tag = "campanas",
    operation_id = "getCampaign",
    params(("id" = Uuid, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignBody),
        openapi::NotFound,
        openapi::ServerErrors,
    )
)]
async fn find(
    State(runtime): State<Runtime>,
    Path(id): Path<String>,
) -> Result<Json<CampaignBody>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no campaign {id}"));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let stored = campaigns::find(&mut conn, uuid)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(CampaignBody::from(&stored.campaign)))
}

/// Lists campaigns.
///
/// `GET /campanas?estado=&influencer_id=&limite=&offset=`, ordered by `fecha_creacion`
/// then `id`.
#[utoipa::path(
    get,
    path = "/campanas",
    tag = "campanas",
    operation_id = "listCampaigns",
    params(PageParams, CampaignFilters),
    responses(
        (status = 200, description = "The page of campaigns", body = Vec<CampaignBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list(
    State(runtime): State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<CampaignBody>>, ApiError> {
    let mut errors = ValidationErrors::new();
    let page = query.page(&mut errors);
    let filter = campaigns::CampaignFilter {
        state: query.parsed("estado", &mut errors),
        influencer_id: query.text("influencer_id").map(str::to_owned),
    };
    ListQuery::finish(errors, ())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let found = campaigns::list(&mut conn, &filter, page).await?;
    Ok(Json(found.iter().map(CampaignBody::from).collect()))
}

/// What the welcome campaign needs from an `InfluencerRegistrado`, validated.
struct NewcomerTerms {
    id: ExternalId,
    name: PersonName,
    email: Email,
    categories: Categories,
}

/// Reads the influencer out of the event, naming every unusable field. Missing
/// `categorias` is an empty target (the campaign targets everyone), not a failure.
fn newcomer(payload: &InfluencerRegistradoPayload) -> Result<NewcomerTerms, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let id = required(
        &mut errors,
        "id_influencer",
        payload.id_influencer.as_deref(),
        ExternalId::parse,
    );
    let name = required(
        &mut errors,
        "nombre",
        payload.nombre.as_deref(),
        PersonName::parse,
    );
    let email = required(&mut errors, "email", payload.email.as_deref(), Email::parse);
    let categories = Categories::parse_allowing_empty(
        "categorias",
        payload.categorias.as_deref().unwrap_or_default(),
    )
    .map_err(|refused| refused.into_iter().for_each(|error| errors.push(error)))
    .ok();
    match (id, name, email, categories) {
        (Some(id), Some(name), Some(email), Some(categories)) => Ok(NewcomerTerms {
            id,
            name,
            email,
            categories,
        }),
        _ => Err(errors),
    }
}

fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Option<T> {
    let Some(raw) = raw else {
        errors.push(FieldError::new(field, "is required"));
        return None;
    };
    parse(raw)
        .map_err(|error| errors.push(error.at(field)))
        .ok()
}

/// `EventoInfluencerRegistrado`: the influencer's welcome campaign, exactly once however
/// often (and under however many message ids) the event arrives. The unique index on
/// welcome campaigns backs the rule: losing it means another delivery already did it.
struct Welcomes {
    runtime: Runtime,
}

impl EventHandler for Welcomes {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::Influencers]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::InfluencerRegistrado(registered) = &delivery.event else {
            return Err(EventError::Permanent(
                "not an EventoInfluencerRegistrado".into(),
            ));
        };
        let terms = newcomer(registered).map_err(|errors| {
            EventError::Permanent(format!("cannot welcome the influencer: {errors}"))
        })?;
        let campaign = Campaign::welcome_for(
            terms.id,
            terms.name,
            terms.email,
            terms.categories,
            Uuid::now_v7(),
            Utc::now(),
        );
        let event_id = delivery.metadata.event_id.to_string();
        match store_new(
            &self.runtime,
            &campaign,
            None,
            Some(&delivery.metadata),
            Some(&event_id),
        )
        .await
        {
            Ok(Some(published)) => {
                tracing::info!(campaign_id = %campaign.id(), "welcome campaign created");
                self.runtime.publish_committed(vec![published]).await;
                Ok(Handled::Applied)
            }
            Ok(None) => Ok(Handled::Duplicate),
            // The same influencer announced again under another event id.
            Err(StoreError::Conflict(Constraint::WelcomeCampaign)) => Ok(Handled::Duplicate),
            Err(error) => Err(error.into()),
        }
    }
}
