//! send-contract: `POST /contratos`, `GET /contratos[/{id}]`, and the contract step of the
//! saga on `EventoCampanaCreada`. Emits `EventoContratoCreado` on `eventos-contratos`, or,
//! when the step is rejected, `EventoContratoError` on `eventos-contratos-error`.
//!
//! The step runs in one transaction: inbox entries, the decision (`check_can_sign` on the
//! influencer's stored contracts) and its effects (contract + `ContratoCreado`, or only
//! `ContratoError`). Besides the event id, the inbox records the step's own key
//! (`CampanaCreada:{campana_id}:{influencer_id}`), so a campaign yields one outcome however
//! many messages carry it: never a second contract, never a second rejection. The
//! database's unique indexes back the rules; a lost race rolls back and is decided again.
//!
//! Correlation: a contract made for a campaign event continues that event's saga
//! (`follow_up`); one made over the API joins its campaign's saga (`id_campana`).

use std::sync::Arc;

use alpes_shared::{
    domain::{
        CampaignContractTerms, Contract, ContractRuleViolation, ContractState, Money, NewContract,
        SignDecision, SigningChannel, ValidationErrors, check_can_sign,
    },
    events::{
        CampanaCreadaPayload, ContratoCreadoPayload, ContratoErrorPayload, EventMetadata,
        IntegrationEvent, Topic, convert,
    },
    http::created::{check_replay, created, replayed},
    http::{
        ApiError, CreateRequest, EventDelivery, EventError, EventHandler, Handled, ListQuery,
        Runtime, events_router,
        openapi::{self, ContractStateSchema, ContractTypeSchema, PageParams},
    },
    store::{
        Constraint, StoreError, contracts, inbox,
        outbox::{Enqueued, OutboxMessage},
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    response::Response,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, Transaction};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

pub const NAME: &str = "send-contract";

/// The `error` code of every rejected contract step.
pub const REJECTED: &str = "ContratoRechazado";

/// The service: its API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let campaign_contracts = Arc::new(CampaignContracts {
        runtime: runtime.clone(),
    });
    let api = Router::new()
        .route("/contratos", get(list).post(sign))
        // The existing system's routes, served by the same handlers and rules.
        .route("/contratos/crear-comando", post(sign_command))
        .route("/contratos/vigentes", get(list_active))
        .route("/contratos/{id}", get(find))
        .route(
            "/openapi.json",
            openapi::route(ApiDoc::openapi, campaign_contracts.topics()),
        )
        .route(
            "/spec",
            openapi::spec_route(ApiDoc::openapi, campaign_contracts.topics()),
        )
        .with_state(runtime.clone());
    let events = events_router(campaign_contracts, runtime.push_auth.clone());
    runtime.router(api.merge(events))
}

/// This function's API, for `GET /openapi.json` (the shared endpoints are added by
/// [`openapi::document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "Sends contracts (`POST /contratos`, and the contract step of the saga on `EventoCampanaCreada`) and serves them back. Announces each one with `EventoContratoCreado` on `eventos-contratos`; a rejected step with `EventoContratoError` on `eventos-contratos-error`."
    ),
    paths(sign, list, find, sign_command, list_active),
    tags((name = "contratos", description = "Contracts between an influencer and a campaign"))
)]
struct ApiDoc;

/// A contract as the API shows it. `monto_total` is a JSON number, as clients send it; it
/// is an exact two-place decimal in the domain and the database.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Contract)]
pub struct ContractBody {
    id: Uuid,
    id_influencer: String,
    id_campana: String,
    monto_total: f64,
    /// ISO 4217 code.
    moneda: String,
    #[schema(value_type = ContractTypeSchema)]
    tipo_contrato: &'static str,
    fecha_inicio: Option<DateTime<Utc>>,
    fecha_fin: Option<DateTime<Utc>>,
    entregables: Option<String>,
    /// `activo` when signed.
    #[schema(value_type = ContractStateSchema)]
    estado: &'static str,
    fecha_creacion: DateTime<Utc>,
}

/// A `POST /contratos` body.
///
/// Documentation only: the handler reads the body leniently (`NewContract`), so that
/// one 422 lists every refused field.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a89",
    "id_influencer": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a87",
    "id_campana": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a88",
    "monto_total": 1200.5,
    "moneda": "EUR",
    "tipo_contrato": "temporal",
    "fecha_inicio": "2026-03-01T00:00:00Z",
    "fecha_fin": "2026-05-31T23:59:59Z",
    "entregables": "3 publicaciones y 5 historias"
}))]
#[allow(dead_code)]
// describes a body, never built
// Unknown fields are refused (422): `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct SignContractRequest {
    /// The contract's id, and the request's idempotency key: the same `id` with the same
    /// body answers 200 with the stored contract, with another body 409. Without it the
    /// server assigns a UUID v7.
    id: Option<Uuid>,
    /// The influencer: at most one `activo` contract of `tipo_contrato` `exclusivo`
    /// (409 otherwise).
    #[schema(min_length = 1, pattern = "text:required:line:200")]
    id_influencer: String,
    /// The campaign: one contract per influencer and campaign (409 otherwise).
    #[schema(min_length = 1, pattern = "text:required:line:200")]
    id_campana: String,
    /// Greater than 0, two decimal places at most.
    #[schema(exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    monto_total: f64,
    /// ISO 4217 code (three letters); default `USD`.
    #[schema(
        pattern = "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[A-Za-z]{3}[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$",
        default = "USD"
    )]
    moneda: Option<String>,
    /// Default `puntual`.
    tipo_contrato: Option<openapi::ContractTypeInput>,
    /// RFC 3339 (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_inicio: Option<DateTime<Utc>>,
    /// RFC 3339, after `fecha_inicio` (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_fin: Option<DateTime<Utc>>,
    #[schema(pattern = "text:optional:long:2000")]
    entregables: Option<String>,
}

/// A `POST /contratos/crear-comando` body: the existing system's command, mapped onto
/// `POST /contratos` (`influencer_id` is `id_influencer`, `campana_id` is `id_campana`,
/// `monto_base` is `monto_total`; the other fields mean the same). The campaign's and
/// influencer's descriptive fields are accepted and not stored: the contract refers to
/// them by id.
#[derive(ToSchema)]
#[schema(example = json!({
    "influencer_id": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a87",
    "influencer_nombre": "Ana Pérez",
    "influencer_email": "ana@example.com",
    "campana_id": "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a88",
    "campana_nombre": "Lanzamiento otoño",
    "categorias": ["moda"],
    "descripcion": "Colección de otoño",
    "monto_base": 1200.5,
    "moneda": "EUR",
    "fecha_inicio": "2026-03-01T00:00:00Z",
    "fecha_fin": "2026-05-31T23:59:59Z",
    "entregables": "3 publicaciones y 5 historias",
    "tipo_contrato": "temporal"
}))]
#[allow(dead_code)]
// describes a body, never built
// Unknown fields are refused (422): `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct CreateContractCommandRequest {
    /// As `id` of `POST /contratos`.
    id: Option<Uuid>,
    /// `id_influencer` of `POST /contratos`.
    #[schema(min_length = 1, pattern = "text:required:line:200")]
    influencer_id: String,
    /// Not stored.
    #[schema(pattern = "^[^\\u0000]*$")]
    influencer_nombre: Option<String>,
    /// Not stored.
    #[schema(pattern = "^[^\\u0000]*$")]
    influencer_email: Option<String>,
    /// `id_campana` of `POST /contratos`.
    #[schema(min_length = 1, pattern = "text:required:line:200")]
    campana_id: String,
    /// Not stored.
    #[schema(pattern = "^[^\\u0000]*$")]
    campana_nombre: Option<String>,
    /// Not stored.
    #[schema(value_type = Option<Vec<openapi::UnstoredTextSchema>>)]
    categorias: Option<Vec<String>>,
    /// Not stored.
    #[schema(pattern = "^[^\\u0000]*$")]
    descripcion: Option<String>,
    /// `monto_total` of `POST /contratos`: greater than 0, two decimal places at most.
    #[schema(exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    monto_base: f64,
    /// ISO 4217 code (three letters); default `USD`.
    #[schema(
        pattern = "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[A-Za-z]{3}[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$",
        default = "USD"
    )]
    moneda: Option<String>,
    /// Default `puntual`.
    tipo_contrato: Option<openapi::ContractTypeInput>,
    /// RFC 3339 (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_inicio: Option<DateTime<Utc>>,
    /// RFC 3339, after `fecha_inicio` (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_fin: Option<DateTime<Utc>>,
    #[schema(pattern = "text:optional:long:2000")]
    entregables: Option<String>,
}

/// The command's field names that are `POST /contratos`'s under another name.
const COMMAND_RENAMES: [(&str, &str); 3] = [
    ("influencer_id", "id_influencer"),
    ("campana_id", "id_campana"),
    ("monto_base", "monto_total"),
];
/// The command's descriptive fields: accepted, not stored.
const COMMAND_DESCRIPTIVE: [&str; 5] = [
    "influencer_nombre",
    "influencer_email",
    "campana_nombre",
    "categorias",
    "descripcion",
];

/// The `POST /contratos` body of a `POST /contratos/crear-comando` body.
fn contract_body_of_command(command: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let serde_json::Value::Object(mut fields) = command else {
        return Err(ApiError::validation("body", "must be a JSON object"));
    };
    // Read as the document states them (strings, `categorias` a list of strings; no NUL,
    // as in every body), then dropped.
    for name in COMMAND_DESCRIPTIVE {
        match fields.remove(name) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(_)) if name != "categorias" => {}
            Some(serde_json::Value::Array(items))
                if name == "categorias" && items.iter().all(serde_json::Value::is_string) => {}
            Some(_) if name == "categorias" => {
                return Err(ApiError::validation(name, "must be a list of strings"));
            }
            Some(_) => return Err(ApiError::validation(name, "must be a string")),
        }
    }
    for (theirs, ours) in COMMAND_RENAMES {
        if fields.contains_key(ours) {
            return Err(ApiError::validation(
                ours,
                format!("unknown field, use {theirs}"),
            ));
        }
        if let Some(value) = fields.remove(theirs) {
            fields.insert(ours.to_owned(), value);
        }
    }
    Ok(serde_json::Value::Object(fields))
}

/// The command's field names in its errors.
fn in_command_terms(error: ApiError) -> ApiError {
    match error {
        ApiError::Validation(errors) => ApiError::Validation(
            errors
                .into_iter()
                .map(|mut error| {
                    if let Some((theirs, _)) = COMMAND_RENAMES
                        .iter()
                        .find(|(_, ours)| error.field == *ours)
                    {
                        error.field = (*theirs).to_owned();
                    }
                    error
                })
                .collect(),
        ),
        other => other,
    }
}

/// The filters of `GET /contratos/vigentes`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `list_active` reads from its `ListQuery`
pub struct ActiveContractFilters {
    /// Only this influencer's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_influencer: Option<String>,
    /// Only this campaign's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_campana: Option<String>,
}

/// The filters of `GET /contratos`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `list` reads from its `ListQuery`
pub struct ContractFilters {
    /// Only this influencer's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_influencer: Option<String>,
    /// Only this campaign's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_campana: Option<String>,
    /// Only contracts in this state; an unknown state is 422.
    #[param(inline)]
    estado: Option<openapi::ContractStateInput>,
}

/// The JSON number of an amount: the nearest `f64` to the exact decimal, which prints back
/// as the same digits.
fn json_amount(money: Money) -> f64 {
    money.amount().to_string().parse().unwrap_or(f64::NAN)
}

impl From<&Contract> for ContractBody {
    fn from(contract: &Contract) -> Self {
        Self {
            id: contract.id(),
            id_influencer: contract.influencer_id().to_string(),
            id_campana: contract.campaign_id().to_string(),
            monto_total: json_amount(contract.total()),
            moneda: contract.total().currency().to_string(),
            tipo_contrato: contract.contract_type().as_str(),
            fecha_inicio: contract.start_date(),
            fecha_fin: contract.end_date(),
            entregables: contract.deliverables().map(ToString::to_string),
            estado: contract.state().as_str(),
            fecha_creacion: contract.created_at(),
        }
    }
}

/// The `ContratoCreado` announcement of `contract`.
fn created_event(contract: &Contract) -> IntegrationEvent {
    IntegrationEvent::from(ContratoCreadoPayload {
        id_contrato: Some(contract.id().to_string()),
        id_influencer: Some(contract.influencer_id().to_string()),
        id_campana: Some(contract.campaign_id().to_string()),
        monto_total: Some(convert::money_to_wire(contract.total().amount())),
        moneda: Some(contract.total().currency().to_string()),
        tipo_contrato: Some(contract.contract_type().as_str().to_owned()),
        fecha_creacion: Some(convert::format_wire_datetime(contract.created_at())),
    })
}

/// Stores `contract` and its announcement in the caller's transaction; returns the
/// announcement's event id.
async fn insert_with_announcement(
    runtime: &Runtime,
    tx: &mut PgConnection,
    contract: &Contract,
    creation_request: Option<&serde_json::Value>,
    metadata: impl FnOnce(&IntegrationEvent) -> EventMetadata,
) -> Result<Enqueued, StoreError> {
    let event = created_event(contract);
    let message = OutboxMessage::new(&event, &metadata(&event))
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    contracts::insert(tx, contract, creation_request).await?;
    runtime.enqueue(tx, message).await
}

/// What the API's signing decided, inside its transaction.
enum ApiSigning {
    /// Stored; the announcement waits in the outbox.
    Signed(Enqueued),
    /// A contract with this request's `id` and terms exists: a replay, if the body matches.
    Replay,
    Refused(ContractRuleViolation),
}

#[tracing::instrument(name = "sign contract", skip_all, fields(db.system = "postgresql"))]
async fn sign_over_api(
    runtime: &Runtime,
    contract: &Contract,
    body: &serde_json::Value,
) -> Result<ApiSigning, StoreError> {
    let mut tx = runtime.pool.begin().await?;
    let held = contracts::for_influencer(&mut tx, contract.influencer_id().as_str()).await?;
    match check_can_sign(contract, &held, SigningChannel::Api) {
        Ok(SignDecision::Sign) => {}
        Ok(SignDecision::AlreadySigned { .. }) => return Ok(ApiSigning::Replay),
        Err(violation) => return Ok(ApiSigning::Refused(violation)),
    }
    // The rules were checked on what this transaction saw; a concurrent signing that
    // committed since is caught by the database's unique indexes (a conflict, 409).
    let enqueued = insert_with_announcement(runtime, &mut tx, contract, Some(body), |event| {
        // The campaign's saga, as far as this function can tell: a consumer of a message
        // without properties infers the same (`id_campana`).
        EventMetadata::new(event, contract.campaign_id().to_string(), NAME)
    })
    .await?;
    tx.commit().await?;
    Ok(ApiSigning::Signed(enqueued))
}

/// Sends a contract.
///
/// `POST /contratos`: 201 with the contract (`estado` `activo`); 200 when the same `id` and
/// body were already signed; 409 when a contract rule says no or the `id` was used with
/// another body. A refused contract emits nothing.
#[utoipa::path(
    post,
    path = "/contratos",
    tag = "contratos",
    operation_id = "signContract",
    request_body = SignContractRequest,
    responses(
        (status = 201, description = "Signed (`estado` `activo`)", body = ContractBody,
            headers(("Location" = String, description = "`/contratos/{id}`"))),
        (status = 200, description = "The same `id` and body were already signed: the stored contract", body = ContractBody),
        openapi::BadRequest,
        openapi::Conflict,
        openapi::PayloadTooLarge,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn sign(
    State(runtime): State<Runtime>,
    request: CreateRequest<NewContract>,
) -> Result<Response, ApiError> {
    sign_request(&runtime, request).await
}

/// Sends a contract, as the existing system's command did.
///
/// `POST /contratos/crear-comando`: its fields mapped onto `POST /contratos`, which
/// answers (same rules, same statuses, same announcement). Field errors use the
/// command's names.
#[utoipa::path(
    post,
    path = "/contratos/crear-comando",
    tag = "contratos",
    operation_id = "signContractCommand",
    request_body = CreateContractCommandRequest,
    responses(
        (status = 201, description = "Signed (`estado` `activo`)", body = ContractBody,
            headers(("Location" = String, description = "`/contratos/{id}`"))),
        (status = 200, description = "The same `id` and body were already signed: the stored contract", body = ContractBody),
        openapi::BadRequest,
        openapi::Conflict,
        openapi::PayloadTooLarge,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn sign_command(
    State(runtime): State<Runtime>,
    alpes_shared::http::Json(command): alpes_shared::http::Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let request = contract_body_of_command(command)
        .and_then(CreateRequest::from_body)
        .map_err(in_command_terms)?;
    sign_request(&runtime, request)
        .await
        .map_err(in_command_terms)
}

/// The one signing of an HTTP request (`POST /contratos` and its command form).
async fn sign_request(
    runtime: &Runtime,
    request: CreateRequest<NewContract>,
) -> Result<Response, ApiError> {
    let CreateRequest { id, input, body } = request;
    let contract = Contract::sign(input, id.unwrap_or_else(Uuid::now_v7), Utc::now())?;
    match sign_over_api(runtime, &contract, &body).await {
        Ok(ApiSigning::Signed(enqueued)) => {
            runtime.publish_committed(vec![enqueued]).await;
            Ok(created(
                format!("/contratos/{}", contract.id()),
                ContractBody::from(&contract),
            ))
        }
        Ok(ApiSigning::Replay) | Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => {
            let stored = replay(runtime, contract.id(), &body).await?;
            Ok(replayed(ContractBody::from(&stored)))
        }
        Ok(ApiSigning::Refused(violation)) => Err(ApiError::Conflict(violation.to_string())),
        Err(error) => Err(error.into()),
    }
}

/// The contract an earlier request with this `id` signed, if that request had the same
/// body; a conflict otherwise (also when a campaign event made it).
async fn replay(
    runtime: &Runtime,
    id: Uuid,
    body: &serde_json::Value,
) -> Result<Contract, ApiError> {
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let stored = contracts::find(&mut conn, id)
        .await?
        .map(|stored| (stored.contract, stored.creation_request));
    check_replay("contract", id, stored, body)
}

/// One contract.
///
/// `GET /contratos/{id}`.
#[utoipa::path(
    get,
    path = "/contratos/{id}",
    tag = "contratos",
    operation_id = "getContract",
    params(("id" = Uuid, Path, description = "The contract's id")),
    responses(
        (status = 200, description = "The contract", body = ContractBody),
        openapi::NotFound,
        openapi::ServerErrors,
    )
)]
async fn find(
    State(runtime): State<Runtime>,
    Path(id): Path<String>,
) -> Result<Json<ContractBody>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no contract {id}"));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let stored = contracts::find(&mut conn, uuid)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(ContractBody::from(&stored.contract)))
}

/// Lists contracts.
///
/// `GET /contratos?id_influencer=&id_campana=&estado=&limite=&offset=`, ordered by
/// `fecha_creacion` then `id`.
#[utoipa::path(
    get,
    path = "/contratos",
    tag = "contratos",
    operation_id = "listContracts",
    params(PageParams, ContractFilters),
    responses(
        (status = 200, description = "The page of contracts", body = Vec<ContractBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list(
    State(runtime): State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<ContractBody>>, ApiError> {
    list_contracts(&runtime, &query, None).await
}

/// Lists the active contracts.
///
/// `GET /contratos/vigentes?id_influencer=&id_campana=&limite=&offset=`: `GET /contratos`
/// with `estado` `activo`.
#[utoipa::path(
    get,
    path = "/contratos/vigentes",
    tag = "contratos",
    operation_id = "listActiveContracts",
    params(PageParams, ActiveContractFilters),
    responses(
        (status = 200, description = "The page of active contracts", body = Vec<ContractBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list_active(
    State(runtime): State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<ContractBody>>, ApiError> {
    list_contracts(&runtime, &query, Some(ContractState::Activo)).await
}

/// A page of contracts by the query's filters; `state` overrides its `estado`.
async fn list_contracts(
    runtime: &Runtime,
    query: &ListQuery,
    state: Option<ContractState>,
) -> Result<Json<Vec<ContractBody>>, ApiError> {
    let mut errors = ValidationErrors::new();
    let page = query.page(&mut errors);
    let filter = contracts::ContractFilter {
        influencer_id: query.text("id_influencer").map(str::to_owned),
        campaign_id: query.text("id_campana").map(str::to_owned),
        state: match state {
            Some(state) => Some(state),
            None => query.parsed("estado", &mut errors),
        },
    };
    ListQuery::finish(errors, ())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let found = contracts::list(&mut conn, &filter, page).await?;
    Ok(Json(found.iter().map(ContractBody::from).collect()))
}

/// The contract step of the saga: `EventoCampanaCreada` naming an influencer becomes that
/// campaign's contract, or a rejection (`EventoContratoError`) that triggers compensation.
struct CampaignContracts {
    runtime: Runtime,
}

/// What one campaign event came to.
enum Step {
    Signed {
        contract: Uuid,
        event: Enqueued,
    },
    Rejected {
        detail: String,
        event: Enqueued,
    },
    /// This event, or another delivery of the same campaign's event, was already handled.
    AlreadyHandled,
    /// The pair already has its contract (made over the API, or by an earlier event).
    AlreadySigned {
        existing: Uuid,
    },
}

impl EventHandler for CampaignContracts {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::Campanas]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let IntegrationEvent::CampanaCreada(campaign) = &delivery.event else {
            return Err(EventError::Permanent("not an EventoCampanaCreada".into()));
        };
        if given(campaign.influencer_id.as_deref()).is_none() {
            return Ok(Handled::Ignored(
                "the campaign names no influencer: no contract to send".into(),
            ));
        }
        let proposed =
            Contract::from_campaign_event(terms_of(campaign), Uuid::now_v7(), Utc::now());
        let decide_now = |forced_rejection| {
            decide(
                &self.runtime,
                campaign,
                &proposed,
                &delivery.metadata,
                forced_rejection,
            )
        };
        // Losing a unique race means a concurrent signing committed between our read and
        // our insert, and our transaction rolled back: decide once more on what is stored
        // now. Should that race be lost too, the constraint itself is the answer.
        let step = match decide_now(None).await {
            Err(StoreError::Conflict(lost)) => {
                tracing::info!(constraint = %lost, "lost a signing race; deciding again");
                match decide_now(None).await {
                    Err(StoreError::Conflict(Constraint::ActiveExclusiveContract)) => {
                        decide_now(Some(Constraint::ActiveExclusiveContract.to_string())).await
                    }
                    Err(StoreError::Conflict(Constraint::ContractPerInfluencerAndCampaign)) => {
                        Ok(Step::AlreadyHandled)
                    }
                    other => other,
                }
            }
            other => other,
        };
        match step? {
            Step::Signed { contract, event } => {
                tracing::info!(contract_id = %contract, "contract created");
                self.runtime.publish_committed(vec![event]).await;
                Ok(Handled::Applied)
            }
            Step::Rejected { detail, event } => {
                tracing::warn!(reason = %detail, "contract rejected; the saga compensates");
                self.runtime.publish_committed(vec![event]).await;
                Ok(Handled::Applied)
            }
            Step::AlreadySigned { existing } => {
                tracing::info!(contract_id = %existing, "the pair already has its contract");
                Ok(Handled::Duplicate)
            }
            Step::AlreadyHandled => Ok(Handled::Duplicate),
        }
    }
}

/// The inbox key of a campaign's contract step, whatever message carried it: one outcome
/// per (campaign, influencer), so the same campaign event resent under another message id
/// neither signs twice nor rejects twice.
fn step_key(campaign: &CampanaCreadaPayload) -> Option<String> {
    Some(format!(
        "CampanaCreada:{}:{}",
        given(campaign.campana_id.as_deref())?,
        given(campaign.influencer_id.as_deref())?
    ))
}

fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

fn terms_of(campaign: &CampanaCreadaPayload) -> CampaignContractTerms {
    CampaignContractTerms {
        campaign_id: campaign.campana_id.clone(),
        influencer_id: campaign.influencer_id.clone(),
        base_amount: campaign.monto_base,
        commission_value: campaign.valor_comision,
        currency: campaign.moneda.clone(),
        contract_type: campaign.tipo_contrato.clone(),
        deliverables: campaign.entregables.clone(),
    }
}

/// One transaction: the inbox check, the decision on what is stored, and its effects (the
/// contract and `ContratoCreado`, or only `ContratoError`), all committed together or not
/// at all. `forced_rejection` skips the rules and rejects with that reason. A lost unique
/// race comes back as `StoreError::Conflict`, with nothing committed.
#[tracing::instrument(name = "decide contract", skip_all, fields(db.system = "postgresql"))]
async fn decide(
    runtime: &Runtime,
    campaign: &CampanaCreadaPayload,
    proposed: &Result<Contract, ValidationErrors>,
    cause: &EventMetadata,
    forced_rejection: Option<String>,
) -> Result<Step, StoreError> {
    let mut tx = runtime.pool.begin().await?;
    if !inbox::record(&mut tx, NAME, &cause.event_id.to_string()).await? {
        return Ok(Step::AlreadyHandled);
    }
    if let Some(key) = step_key(campaign)
        && !inbox::record(&mut tx, NAME, &key).await?
    {
        // Keep this delivery's id too, so its next redelivery stops at the first check.
        tx.commit().await?;
        return Ok(Step::AlreadyHandled);
    }
    let contract = match proposed {
        Ok(contract) => contract,
        Err(errors) => {
            let detail = format!("the campaign's contract terms are invalid: {errors}");
            return reject(runtime, tx, campaign, None, detail, cause).await;
        }
    };
    if let Some(detail) = forced_rejection {
        return reject(runtime, tx, campaign, Some(contract), detail, cause).await;
    }
    let held = contracts::for_influencer(&mut tx, contract.influencer_id().as_str()).await?;
    match check_can_sign(contract, &held, SigningChannel::CampaignEvent) {
        Ok(SignDecision::Sign) => {
            let event = insert_with_announcement(runtime, &mut tx, contract, None, |event| {
                cause.follow_up(event, NAME)
            })
            .await?;
            tx.commit().await?;
            Ok(Step::Signed {
                contract: contract.id(),
                event,
            })
        }
        Ok(SignDecision::AlreadySigned { existing }) => {
            tx.commit().await?;
            Ok(Step::AlreadySigned { existing })
        }
        Err(violation) => {
            reject(
                runtime,
                tx,
                campaign,
                Some(contract),
                violation.to_string(),
                cause,
            )
            .await
        }
    }
}

/// Commits the rejection: `ContratoError` in the outbox, beside the inbox entries already
/// in `tx`, and no contract.
async fn reject(
    runtime: &Runtime,
    mut tx: Transaction<'static, Postgres>,
    campaign: &CampanaCreadaPayload,
    proposed: Option<&Contract>,
    detail: String,
    cause: &EventMetadata,
) -> Result<Step, StoreError> {
    let event = rejection_event(campaign, proposed, &detail, Utc::now());
    let message = OutboxMessage::new(&event, &cause.follow_up(&event, NAME))
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let event = runtime.enqueue(&mut tx, message).await?;
    tx.commit().await?;
    Ok(Step::Rejected { detail, event })
}

/// The `ContratoError` of a rejected step: the ids as the campaign event named them, the
/// terms the contract would have had (or, when they were invalid, as sent), no
/// `id_contrato` because no contract exists.
fn rejection_event(
    campaign: &CampanaCreadaPayload,
    proposed: Option<&Contract>,
    detail: &str,
    now: DateTime<Utc>,
) -> IntegrationEvent {
    let sent_amount = campaign
        .monto_base
        .filter(|amount| *amount != 0.0)
        .or(campaign.valor_comision);
    IntegrationEvent::from(ContratoErrorPayload {
        id_contrato: None,
        id_influencer: campaign.influencer_id.clone(),
        id_campana: campaign.campana_id.clone(),
        monto_total: proposed.map_or(sent_amount, |contract| {
            Some(convert::money_to_wire(contract.total().amount()))
        }),
        moneda: proposed.map_or_else(
            || campaign.moneda.clone(),
            |contract| Some(contract.total().currency().to_string()),
        ),
        tipo_contrato: proposed.map_or_else(
            || campaign.tipo_contrato.clone(),
            |contract| Some(contract.contract_type().as_str().to_owned()),
        ),
        fecha_creacion: Some(convert::format_wire_datetime(now)),
        error: Some(REJECTED.to_owned()),
        error_detalle: Some(detail.to_owned()),
    })
}
