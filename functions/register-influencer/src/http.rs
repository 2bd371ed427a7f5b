//! The HTTP adapter: request DTOs (read and documented by one type each) into commands,
//! the use cases' outcomes into responses.

use alpes_shared::{
    domain::{Influencer, NewInfluencer, RegisterInfluencer, ValidationErrors},
    http::{
        ApiError, CreateRequest, ListQuery, Origin, Runtime,
        created::{created, replayed},
        openapi::{self, CategorySchema, InfluencerStateSchema, PageParams, PlatformSchema},
        query::{Filters, find_by_path, parse_filter, text_filter},
    },
    store::{
        idempotency::{self, Scope},
        influencers::InfluencerFilter,
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::IgnoredAny};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::use_cases::{self, RegisterError, Registered};

pub fn routes(runtime: Runtime) -> Router {
    let topics = &[alpes_shared::events::Topic::CrearInfluencer];
    Router::new()
        .route("/influencers", get(list).post(register))
        // The existing system's routes, served by the same handlers and rules.
        .route("/influencers/", get(list_seed))
        .route("/influencers/registrar-comando", post(register_command))
        .route("/influencers/{id}", get(find))
        .route("/openapi.json", openapi::route(ApiDoc::openapi, topics))
        .route("/spec", openapi::spec_route(ApiDoc::openapi, topics))
        .with_state(runtime)
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

/// A `POST /influencers` body (and `POST /influencers/registrar-comando`'s: the existing
/// system's command sent these fields without `id` and `plataformas`).
///
/// Read leniently (every field optional, wrong values left to the domain) so that one
/// 422 lists every refused field; the schema says what is accepted. Unknown fields are
/// refused (422): `additionalProperties: false`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
pub struct RegisterInfluencerRequest {
    /// The influencer's id, and the request's idempotency key: the same `id` with the same
    /// body answers 200 with the stored influencer, with another body 409. Without it the
    /// server assigns a UUID v7. (Read by [`CreateRequest`], trimmed, before the rest.)
    #[serde(rename = "id", default)]
    #[schema(value_type = Option<Uuid>)]
    _id: Option<IgnoredAny>,
    /// 1..=200 characters after trimming.
    #[schema(required = true, value_type = String, min_length = 1, pattern = "text:required:line:200")]
    nombre: Option<String>,
    /// A valid address, stored lower-cased; unique (409 when another influencer has it).
    #[schema(required = true, value_type = String, format = Email, max_length = 254)]
    email: Option<String>,
    /// 1..=10 non-empty categories (100 characters at most each), stored lower-cased,
    /// duplicates removed.
    #[schema(required = true, value_type = Vec<CategorySchema>, min_items = 1, max_items = 10, inline)]
    categorias: Option<Vec<String>>,
    /// Where the influencer publishes.
    #[schema(value_type = Option<Vec<openapi::PlatformInput>>)]
    plataformas: Option<Vec<String>>,
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

impl From<RegisterInfluencerRequest> for NewInfluencer {
    fn from(request: RegisterInfluencerRequest) -> Self {
        Self {
            name: request.nombre,
            email: request.email,
            categories: request.categorias,
            platforms: request.plataformas,
            description: request.descripcion,
            biography: request.biografia,
            website: request.sitio_web,
            phone: request.telefono,
        }
    }
}

/// The filters of `GET /influencers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InfluencerFilters {
    /// Only influencers with this category (any case).
    #[param(pattern = "^[^\\u0000]*$")]
    categoria: Option<String>,
    /// Only influencers in this state; an unknown state is 422.
    #[param(inline, value_type = Option<openapi::InfluencerStateInput>)]
    estado: Option<String>,
    /// Only influencers publishing on this platform; an unknown platform is 422.
    #[param(inline, value_type = Option<openapi::PlatformInput>)]
    plataforma: Option<String>,
}

impl Filters for InfluencerFilters {
    type Filter = InfluencerFilter;

    fn into_filter(self, errors: &mut ValidationErrors) -> InfluencerFilter {
        InfluencerFilter {
            category: text_filter(self.categoria.as_deref()).map(str::to_lowercase),
            state: parse_filter("estado", self.estado.as_deref(), errors),
            platform: parse_filter("plataforma", self.plataforma.as_deref(), errors),
        }
    }
}

/// The existing system's answer to a registration command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandAccepted {
    #[schema(example = "Comando procesado")]
    mensaje: &'static str,
    /// The registered influencer's id.
    comando_id: Uuid,
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
    request: CreateRequest<RegisterInfluencerRequest>,
) -> Result<Response, ApiError> {
    Ok(match registration(&runtime, request).await? {
        (influencer, true) => created(
            format!("/influencers/{}", influencer.id()),
            InfluencerBody::from(&influencer),
        ),
        (influencer, false) => replayed(InfluencerBody::from(&influencer)),
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
    request_body = RegisterInfluencerRequest,
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
    request: CreateRequest<RegisterInfluencerRequest>,
) -> Result<Response, ApiError> {
    let (influencer, _) = registration(&runtime, request).await?;
    let accepted = CommandAccepted {
        mensaje: "Comando procesado",
        comando_id: influencer.id(),
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// The one registration of an HTTP request (`POST /influencers` and its command form):
/// the influencer, and whether this request created it.
async fn registration(
    runtime: &Runtime,
    request: CreateRequest<RegisterInfluencerRequest>,
) -> Result<(Influencer, bool), ApiError> {
    let CreateRequest { id, input, body } = request;
    let claim = id.map(|id| idempotency::Request::new(Scope::Influencer, id, body));
    let command = RegisterInfluencer {
        id: id.unwrap_or_else(Uuid::now_v7),
        details: input.into(),
    };
    match use_cases::register(runtime, command, Origin::Api(claim.as_ref())).await {
        Ok(Registered::Created(influencer)) => Ok((influencer, true)),
        Ok(Registered::Replayed(influencer)) => Ok((influencer, false)),
        Ok(Registered::AlreadyHandled) => unreachable!("no inbox over HTTP"),
        Err(RegisterError::Invalid(errors)) => Err(ApiError::Validation(errors)),
        Err(error @ RegisterError::EmailTaken) => Err(ApiError::Conflict(error.to_string())),
        Err(RegisterError::IdTaken {
            id,
            with_another_body: true,
        }) => Err(ApiError::Conflict(format!(
            "influencer {id} was created with a different body"
        ))),
        Err(error @ RegisterError::IdTaken { .. }) => Err(ApiError::Conflict(error.to_string())),
        Err(RegisterError::Store(error)) => Err(error.into()),
    }
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
    let influencer =
        find_by_path("influencer", &id, |uuid| use_cases::find(&runtime, uuid)).await?;
    Ok(Json(InfluencerBody::from(&influencer)))
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
    let (page, filter) = query.read::<InfluencerFilters>()?;
    let found = use_cases::list(&runtime, &filter, page).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_maps_its_spanish_names_onto_the_domain_input() {
        let request: RegisterInfluencerRequest = serde_json::from_value(serde_json::json!({
            "nombre": "Ana",
            "email": "ana@example.com",
            "categorias": ["moda"],
            "plataformas": ["instagram"],
            "descripcion": "d",
            "biografia": "b",
            "sitio_web": "https://a.co",
            "telefono": "1234567"
        }))
        .unwrap();

        assert_eq!(
            NewInfluencer::from(request),
            NewInfluencer {
                name: Some("Ana".into()),
                email: Some("ana@example.com".into()),
                categories: Some(vec!["moda".into()]),
                platforms: Some(vec!["instagram".into()]),
                description: Some("d".into()),
                biography: Some("b".into()),
                website: Some("https://a.co".into()),
                phone: Some("1234567".into())
            }
        );
    }

    #[test]
    fn an_unknown_field_is_refused() {
        // Nothing the API does not know is stored.
        let body = serde_json::json!({"nombre": "Ana", "apodo": "x"});
        let error = serde_json::from_value::<RegisterInfluencerRequest>(body).unwrap_err();
        assert!(error.to_string().contains("apodo"), "{error}");
    }
}
