//! The HTTP adapter: the request DTO (read and documented by one type) into the create
//! command, the use cases' outcomes into responses.

use alpes_shared::{
    domain::{Campaign, CreateCampaign, Money, NewCampaign, ValidationErrors},
    http::{
        ApiError, CreateRequest, ListQuery, Runtime,
        created::{created, replayed},
        openapi::{
            self, CampaignStateSchema, CategorySchema, CommissionTypeSchema, ContractTypeSchema,
            PageParams,
        },
        query::{Filters, find_by_path, parse_filter, text_filter},
    },
    store::{
        campaigns::CampaignFilter,
        idempotency::{self, Scope},
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    response::Response,
    routing::get,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, de::IgnoredAny};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::use_cases::{self, CreateError, Created};

pub fn routes(runtime: Runtime) -> Router {
    let topics = &[alpes_shared::events::Topic::Influencers];
    Router::new()
        .route("/campanas", get(list).post(create))
        .route("/campanas/{id}", get(find))
        .route("/openapi.json", openapi::route(ApiDoc::openapi, topics))
        .route("/spec", openapi::spec_route(ApiDoc::openapi, topics))
        .with_state(runtime)
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

/// A `POST /campanas` body. Amounts take two decimal places at most.
///
/// Read leniently (every field optional, wrong values left to the domain) so that one
/// 422 lists every refused field; the schema says what is accepted. Unknown fields are
/// refused (422): `additionalProperties: false`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
pub struct CreateCampaignRequest {
    /// The campaign's id, and the request's idempotency key: the same `id` with the same
    /// body answers 200 with the stored campaign, with another body 409. Without it the
    /// server assigns a UUID v7.
    // Read by `CreateRequest`, trimmed, before the rest: here for the schema only.
    #[serde(rename = "id", default)]
    #[schema(value_type = Option<Uuid>)]
    _id: Option<IgnoredAny>,
    /// 1..=300 characters after trimming.
    #[schema(required = true, value_type = String, min_length = 1, pattern = "text:required:line:300")]
    nombre: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, pattern = "text:required:long:2000")]
    descripcion: Option<String>,
    /// Default `cpa`.
    #[schema(value_type = Option<openapi::CommissionTypeInput>)]
    tipo_comision: Option<String>,
    /// Greater than 0.
    #[schema(required = true, value_type = f64, exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    valor_comision: Option<Decimal>,
    /// ISO 4217 code (three letters); default `USD`.
    #[schema(
        pattern = "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[A-Za-z]{3}[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$",
        default = "USD"
    )]
    moneda: Option<String>,
    /// Up to 10 categories, possibly none (the campaign targets everyone).
    #[schema(value_type = Option<Vec<CategorySchema>>, max_items = 10, inline)]
    categorias_objetivo: Option<Vec<String>>,
    /// RFC 3339; default now (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_inicio: Option<String>,
    /// RFC 3339, after `fecha_inicio` (blank is absent).
    #[schema(value_type = Option<openapi::DateTimeOrBlankSchema>)]
    fecha_fin: Option<String>,
    /// The influencer the campaign is for; `influencer_id`, `influencer_nombre` and
    /// `influencer_email` come together or not at all.
    #[schema(pattern = "text:optional:line:200")]
    influencer_id: Option<String>,
    #[schema(pattern = "text:optional:line:200")]
    influencer_nombre: Option<String>,
    #[schema(format = Email)]
    influencer_email: Option<String>,
    /// Default `puntual`.
    #[schema(value_type = Option<openapi::ContractTypeInput>)]
    tipo_contrato: Option<String>,
    /// Greater than 0; default `valor_comision`.
    #[schema(value_type = Option<f64>, exclusive_minimum = 0, maximum = 131071.99, multiple_of = 0.01)]
    monto_base: Option<Decimal>,
    #[schema(pattern = "text:optional:long:2000")]
    entregables: Option<String>,
}

impl From<CreateCampaignRequest> for NewCampaign {
    fn from(request: CreateCampaignRequest) -> Self {
        Self {
            name: request.nombre,
            description: request.descripcion,
            commission_type: request.tipo_comision,
            commission_value: request.valor_comision,
            currency: request.moneda,
            target_categories: request.categorias_objetivo,
            start_date: request.fecha_inicio,
            end_date: request.fecha_fin,
            influencer_id: request.influencer_id,
            influencer_name: request.influencer_nombre,
            influencer_email: request.influencer_email,
            contract_type: request.tipo_contrato,
            base_amount: request.monto_base,
            deliverables: request.entregables,
        }
    }
}

/// The filters of `GET /campanas`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignFilters {
    /// Only campaigns in this state; an unknown state is 422.
    #[param(inline, value_type = Option<openapi::CampaignStateInput>)]
    estado: Option<String>,
    /// Only campaigns for this influencer.
    #[param(pattern = "^[^\\u0000]*$")]
    influencer_id: Option<String>,
}

impl Filters for CampaignFilters {
    type Filter = CampaignFilter;

    fn into_filter(self, errors: &mut ValidationErrors) -> CampaignFilter {
        CampaignFilter {
            state: parse_filter("estado", self.estado.as_deref(), errors),
            influencer_id: text_filter(self.influencer_id.as_deref()).map(str::to_owned),
        }
    }
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
    request: CreateRequest<CreateCampaignRequest>,
) -> Result<Response, ApiError> {
    let CreateRequest { id, input, body } = request;
    let claim = id.map(|id| idempotency::Request::new(Scope::Campaign, id, body));
    let command = CreateCampaign {
        id: id.unwrap_or_else(Uuid::now_v7),
        details: input.into(),
    };
    match use_cases::create(&runtime, command, claim.as_ref()).await {
        Ok(Created::Created(campaign)) => Ok(created(
            format!("/campanas/{}", campaign.id()),
            CampaignBody::from(&campaign),
        )),
        Ok(Created::Replayed(campaign)) => Ok(replayed(CampaignBody::from(&campaign))),
        Err(CreateError::Invalid(errors)) => Err(ApiError::Validation(errors)),
        Err(CreateError::IdTaken {
            id,
            with_another_body: true,
        }) => Err(ApiError::Conflict(format!(
            "campaign {id} was created with a different body"
        ))),
        Err(error @ CreateError::IdTaken { .. }) => Err(ApiError::Conflict(error.to_string())),
        Err(CreateError::Store(error)) => Err(error.into()),
    }
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
    let campaign = find_by_path("campaign", &id, |uuid| use_cases::find(&runtime, uuid)).await?;
    Ok(Json(CampaignBody::from(&campaign)))
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
    let (page, filter) = query.read::<CampaignFilters>()?;
    let found = use_cases::list(&runtime, &filter, page).await?;
    Ok(Json(found.iter().map(CampaignBody::from).collect()))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn create(body: serde_json::Value) -> Result<Campaign, ValidationErrors> {
        let request: CreateCampaignRequest = serde_json::from_value(body).expect("a create body");
        Campaign::create(request.into(), Uuid::nil(), Utc::now())
    }

    #[test]
    fn given_wire_json_with_float_amounts_when_deserialised_then_decimals_are_exact() {
        let campaign = create(json!({
            "nombre": "C",
            "descripcion": "D",
            "valor_comision": 19.99,
            "monto_base": 250,
            "categorias_objetivo": [],
            "influencer_id": "inf-1",
            "influencer_nombre": "Ana",
            "influencer_email": "ana@example.com",
            "fecha_inicio": "2025-10-01T00:00:00Z"
        }))
        .unwrap();

        assert_eq!(campaign.commission().amount().to_string(), "19.99");
        assert_eq!(campaign.base_amount().amount().to_string(), "250.00");
    }

    #[test]
    fn given_wire_json_with_too_precise_amount_when_created_then_refused() {
        let refused = create(json!({
            "nombre": "C", "descripcion": "D", "valor_comision": 0.125
        }))
        .unwrap_err();

        let fields: Vec<String> = refused.into_iter().map(|error| error.field).collect();
        assert_eq!(fields, ["valor_comision"]);
    }
}
