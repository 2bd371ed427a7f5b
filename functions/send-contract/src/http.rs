//! The HTTP adapter: request DTOs (read and documented by one type each) into commands,
//! the use cases' outcomes into responses.

use alpes_shared::{
    domain::{Contract, ContractState, Money, NewContract, SignContract, ValidationErrors},
    http::{
        ApiError, CreateRequest, ListQuery, Runtime,
        created::{created, replayed},
        openapi::{self, ContractStateSchema, ContractTypeSchema, PageParams},
        query::{Filters, find_by_path, parse_filter, text_filter},
    },
    store::{
        contracts::ContractFilter,
        idempotency::{self, Scope},
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    response::Response,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, de::IgnoredAny};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::use_cases::{self, SignError, Signed};

pub fn routes(runtime: Runtime) -> Router {
    let topics = &[alpes_shared::events::Topic::Campanas];
    Router::new()
        .route("/contratos", get(list).post(sign))
        // The existing system's routes, served by the same handlers and rules.
        .route("/contratos/crear-comando", post(sign_command))
        .route("/contratos/vigentes", get(list_active))
        .route("/contratos/{id}", get(find))
        .route("/openapi.json", openapi::route(ApiDoc::openapi, topics))
        .route("/spec", openapi::spec_route(ApiDoc::openapi, topics))
        .with_state(runtime)
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

/// A `POST /contratos` body (and, once its fields are renamed, `POST
/// /contratos/crear-comando`'s).
///
/// Read leniently (every field optional, wrong values left to the domain) so that one
/// 422 lists every refused field; the schema says what is accepted. Unknown fields are
/// refused (422): `additionalProperties: false`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
pub struct SignContractRequest {
    /// The contract's id, and the request's idempotency key: the same `id` with the same
    /// body answers 200 with the stored contract, with another body 409. Without it the
    /// server assigns a UUID v7. (Read by [`CreateRequest`], trimmed, before the rest.)
    #[serde(rename = "id", default)]
    #[schema(value_type = Option<Uuid>)]
    _id: Option<IgnoredAny>,
    /// The influencer: at most one `activo` contract of `tipo_contrato` `exclusivo`
    /// (409 otherwise).
    #[schema(required = true, value_type = String, min_length = 1, pattern = "text:required:line:200")]
    id_influencer: Option<String>,
    /// The campaign: one contract per influencer and campaign (409 otherwise).
    #[schema(required = true, value_type = String, min_length = 1, pattern = "text:required:line:200")]
    id_campana: Option<String>,
    /// Greater than 0, two decimal places at most.
    #[schema(required = true, value_type = f64, exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    monto_total: Option<Decimal>,
    /// ISO 4217 code (three letters); default `USD`.
    #[schema(
        pattern = "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[A-Za-z]{3}[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$",
        default = "USD"
    )]
    moneda: Option<String>,
    /// Default `puntual`.
    #[schema(value_type = Option<openapi::ContractTypeInput>)]
    tipo_contrato: Option<String>,
    /// RFC 3339 (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_inicio: Option<String>,
    /// RFC 3339, after `fecha_inicio` (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_fin: Option<String>,
    #[schema(pattern = "text:optional:long:2000")]
    entregables: Option<String>,
}

impl From<SignContractRequest> for NewContract {
    fn from(request: SignContractRequest) -> Self {
        Self {
            influencer_id: request.id_influencer,
            campaign_id: request.id_campana,
            total_amount: request.monto_total,
            currency: request.moneda,
            contract_type: request.tipo_contrato,
            start_date: request.fecha_inicio,
            end_date: request.fecha_fin,
            deliverables: request.entregables,
        }
    }
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
// Describes the body only: the handler reads it as JSON, renames its fields onto
// `POST /contratos`'s and reads that as a `SignContractRequest`, so that both forms name
// one signing (the same `id` and terms replay across them) and a misnamed field is told
// its command name. Unknown fields are refused (422): `additionalProperties: false`.
#[allow(dead_code)]
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

/// The filters of `GET /contratos`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContractFilters {
    /// Only this influencer's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_influencer: Option<String>,
    /// Only this campaign's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_campana: Option<String>,
    /// Only contracts in this state; an unknown state is 422.
    #[param(inline, value_type = Option<openapi::ContractStateInput>)]
    estado: Option<String>,
}

impl Filters for ContractFilters {
    type Filter = ContractFilter;

    fn into_filter(self, errors: &mut ValidationErrors) -> ContractFilter {
        ContractFilter {
            influencer_id: text_filter(self.id_influencer.as_deref()).map(str::to_owned),
            campaign_id: text_filter(self.id_campana.as_deref()).map(str::to_owned),
            state: parse_filter("estado", self.estado.as_deref(), errors),
        }
    }
}

/// The filters of `GET /contratos/vigentes`: those of `GET /contratos` but `estado`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActiveContractFilters {
    /// Only this influencer's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_influencer: Option<String>,
    /// Only this campaign's contracts.
    #[param(pattern = "^[^\\u0000]*$")]
    id_campana: Option<String>,
}

impl Filters for ActiveContractFilters {
    type Filter = ContractFilter;

    fn into_filter(self, _: &mut ValidationErrors) -> ContractFilter {
        ContractFilter {
            influencer_id: text_filter(self.id_influencer.as_deref()).map(str::to_owned),
            campaign_id: text_filter(self.id_campana.as_deref()).map(str::to_owned),
            state: Some(ContractState::Activo),
        }
    }
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
    request: CreateRequest<SignContractRequest>,
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
    request: CreateRequest<SignContractRequest>,
) -> Result<Response, ApiError> {
    let CreateRequest { id, input, body } = request;
    let claim = id.map(|id| idempotency::Request::new(Scope::Contract, id, body));
    let command = SignContract {
        id: id.unwrap_or_else(Uuid::now_v7),
        terms: input.into(),
    };
    match use_cases::sign(runtime, command, claim.as_ref()).await {
        Ok(Signed::Created(contract)) => Ok(created(
            format!("/contratos/{}", contract.id()),
            ContractBody::from(&contract),
        )),
        Ok(Signed::Replayed(contract)) => Ok(replayed(ContractBody::from(&contract))),
        Err(SignError::Invalid(errors)) => Err(ApiError::Validation(errors)),
        Err(SignError::Refused(violation)) => Err(ApiError::Conflict(violation.to_string())),
        Err(SignError::IdTaken {
            id,
            with_another_body: true,
        }) => Err(ApiError::Conflict(format!(
            "contract {id} was created with a different body"
        ))),
        Err(error @ SignError::IdTaken { .. }) => Err(ApiError::Conflict(error.to_string())),
        Err(SignError::Store(error)) => Err(error.into()),
    }
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
    let contract = find_by_path("contract", &id, |uuid| use_cases::find(&runtime, uuid)).await?;
    Ok(Json(ContractBody::from(&contract)))
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
    let (page, filter) = query.read::<ContractFilters>()?;
    let found = use_cases::list(&runtime, &filter, page).await?;
    Ok(Json(found.iter().map(ContractBody::from).collect()))
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
    let (page, filter) = query.read::<ActiveContractFilters>()?;
    let found = use_cases::list(&runtime, &filter, page).await?;
    Ok(Json(found.iter().map(ContractBody::from).collect()))
}

#[cfg(test)]
mod tests {
    use alpes_shared::domain::ContractType;

    use super::*;

    #[test]
    fn given_wire_json_when_deserialised_then_spanish_names_map() {
        let input: SignContractRequest = serde_json::from_value(serde_json::json!({
            "id_influencer": "inf-1",
            "id_campana": "camp-1",
            "monto_total": 99.95,
            "moneda": "USD",
            "tipo_contrato": "colaboracion",
            "entregables": "1 post"
        }))
        .unwrap();

        let contract = Contract::sign(input.into(), Uuid::nil(), Utc::now()).unwrap();

        assert_eq!(contract.total().amount().to_string(), "99.95");
        assert_eq!(contract.contract_type(), ContractType::Colaboracion);
    }
}
