//! generate-report: the report of each campaign, built from `EventoCampanaCreada` and
//! `EventoContratoCreado`; `GET /reportes[/{id}]`. Emits `EventoReporte`
//! (`ReporteCreado`, `ReporteActualizado`, and `ReporteCompensado` for a report born
//! cancelled) on `eventos-reportes`.
//!
//! Delivery order does not change the end state (SPEC section 7):
//! - campaign, then contract: the campaign report completes with the contract;
//! - contract, then campaign: a contract report is created, and the campaign then makes
//!   it the campaign's report (its type, name, influencer and `datos_origen`), keeping
//!   its contract and so `completado`: the same report as in the other order;
//! - compensation first (compensate-report remembered it): the report, whichever event
//!   creates it, starts `cancelado`, announced by `ReporteCreado` then
//!   `ReporteCompensado`, as when the compensation comes second;
//! - a cancelled report never changes again; a second campaign event for a campaign
//!   that has its campaign report changes nothing.
//!
//! Each event is decided in one transaction (inbox record, report write, outbox rows)
//! under the campaign's lock, shared with compensate-report. A creation that still
//! loses the unique race to another writer is rolled back and decided again.

use std::sync::Arc;

use alpes_shared::{
    domain::{
        CampaignReportInput, CancellationReason, ContractReportInput, Currency, ExternalId, Money,
        Report, ReportState, ValidationErrors,
    },
    events::{
        CampanaCreadaPayload, ContratoCreadoPayload, EventMetadata, IntegrationEvent,
        ReportEventType, Topic,
    },
    http::{
        ApiError, EventDelivery, EventError, EventHandler, Handled, ListQuery, Runtime,
        events_router,
        openapi::{self, PageParams},
    },
    store::{
        Constraint, StoreError, inbox,
        outbox::{Enqueued, OutboxMessage},
        reports,
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

pub use alpes_shared::{events::report_event, views::ReportBody};

pub const NAME: &str = "generate-report";

/// How often an event is decided afresh after losing a race for its campaign's report
/// to another writer, before the push fails (and the pusher retries it later).
const DECISION_ATTEMPTS: u32 = 3;

/// The service: its read API, its event endpoint, and the shared runtime's endpoints.
pub fn app(runtime: Runtime) -> Router {
    let reports = Arc::new(Reports {
        runtime: runtime.clone(),
    });
    let api = Router::new()
        .route("/reportes", get(list))
        .route("/reportes/{id}", get(find))
        .route(
            "/openapi.json",
            openapi::route(ApiDoc::openapi, reports.topics()),
        )
        .route(
            "/spec",
            openapi::spec_route(ApiDoc::openapi, reports.topics()),
        )
        .with_state(runtime.clone());
    let events = events_router(reports, runtime.push_auth.clone());
    runtime.router(api.merge(events))
}

/// This function's API, for `GET /openapi.json` (the shared endpoints are added by
/// [`openapi::document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "Builds the report of each campaign from `EventoCampanaCreada` and `EventoContratoCreado`, and serves the reports. Announces each change with `EventoReporte` on `eventos-reportes`."
    ),
    paths(list, find),
    tags((name = "reportes", description = "Reports of campaigns and contracts"))
)]
struct ApiDoc;

/// The filters of `GET /reportes`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `list` reads from its `ListQuery`
pub struct ReportFilters {
    /// Only this campaign's reports.
    #[param(pattern = "^[^\\u0000]*$")]
    id_campana: Option<String>,
    /// Only reports in this state; an unknown state is 422.
    #[param(inline)]
    estado: Option<openapi::ReportStateInput>,
    /// Only reports of this type; an unknown type is 422.
    #[param(inline)]
    tipo_reporte: Option<openapi::ReportTypeInput>,
}

/// One report.
///
/// `GET /reportes/{id}`.
#[utoipa::path(
    get,
    path = "/reportes/{id}",
    tag = "reportes",
    operation_id = "getReport",
    params(("id" = Uuid, Path, description = "The report's id")),
    responses(
        (status = 200, description = "The report", body = ReportBody),
        openapi::NotFound,
        openapi::ServerErrors,
    )
)]
async fn find(
    State(runtime): State<Runtime>,
    Path(id): Path<String>,
) -> Result<Json<ReportBody>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no report {id}"));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let report = reports::find(&mut conn, uuid)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(ReportBody::from(&report)))
}

/// Lists reports.
///
/// `GET /reportes?id_campana=&estado=&tipo_reporte=&limite=&offset=`, ordered by
/// `fecha_creacion` then `id`.
#[utoipa::path(
    get,
    path = "/reportes",
    tag = "reportes",
    operation_id = "listReports",
    params(PageParams, ReportFilters),
    responses(
        (status = 200, description = "The page of reports", body = Vec<ReportBody>),
        openapi::BadRequest,
        openapi::ValidationFailed,
        openapi::ServerErrors,
    )
)]
async fn list(
    State(runtime): State<Runtime>,
    query: ListQuery,
) -> Result<Json<Vec<ReportBody>>, ApiError> {
    let mut errors = ValidationErrors::new();
    let page = query.page(&mut errors);
    let filter = reports::ReportFilter {
        campaign_id: query.text("id_campana").map(str::to_owned),
        state: query.parsed("estado", &mut errors),
        report_type: query.parsed("tipo_reporte", &mut errors),
    };
    ListQuery::finish(errors, ())?;
    let mut conn = runtime.pool.acquire().await.map_err(StoreError::from)?;
    let found = reports::list(&mut conn, &filter, page).await?;
    Ok(Json(found.iter().map(ReportBody::from).collect()))
}

/// What one consumed event asks of its campaign's report.
enum Fact {
    Campaign(CampaignReportInput),
    Contract(ContractReportInput),
}

impl Fact {
    fn read(event: &IntegrationEvent) -> Result<Self, EventError> {
        match event {
            IntegrationEvent::CampanaCreada(campaign) => Self::campaign(campaign),
            IntegrationEvent::ContratoCreado(contract) => Self::contract(contract),
            _ => Err(EventError::Permanent(
                "neither an EventoCampanaCreada nor an EventoContratoCreado".into(),
            )),
        }
    }

    fn campaign(event: &CampanaCreadaPayload) -> Result<Self, EventError> {
        Ok(Self::Campaign(CampaignReportInput {
            campaign_id: required_id("campana_id", event.campana_id.as_deref())?,
            campaign_name: event.nombre.clone(),
            influencer_id: optional_id(event.influencer_id.as_deref()),
            source_data: source_data(event)?,
        }))
    }

    fn contract(event: &ContratoCreadoPayload) -> Result<Self, EventError> {
        let currency = match event.moneda.as_deref().map(str::trim) {
            None | Some("") => Currency::default(),
            Some(code) => Currency::parse(code)
                .map_err(|error| EventError::Permanent(format!("moneda: {error}")))?,
        };
        let amount = event
            .monto_total
            .ok_or_else(|| EventError::Permanent("monto_total is missing".into()))?;
        let total = Money::from_wire_f32(amount, currency)
            .map_err(|error| EventError::Permanent(format!("monto_total {amount}: {error}")))?;
        Ok(Self::Contract(ContractReportInput {
            contract_id: required_id("id_contrato", event.id_contrato.as_deref())?,
            campaign_id: required_id("id_campana", event.id_campana.as_deref())?,
            influencer_id: optional_id(event.id_influencer.as_deref()),
            total,
            source_data: source_data(event)?,
        }))
    }

    fn campaign_id(&self) -> &ExternalId {
        match self {
            Self::Campaign(input) => &input.campaign_id,
            Self::Contract(input) => &input.campaign_id,
        }
    }

    /// The report this fact creates when its campaign has none yet.
    fn new_report(&self, pending: Option<CancellationReason>, now: DateTime<Utc>) -> Report {
        match self {
            Self::Campaign(input) => {
                Report::for_campaign(input.clone(), Uuid::now_v7(), pending, now)
            }
            Self::Contract(input) => {
                Report::for_contract(input.clone(), Uuid::now_v7(), pending, now)
            }
        }
    }

    /// Applies this fact to the campaign's existing report; `Err` says why nothing changed.
    fn apply_to(&self, report: &mut Report, now: DateTime<Utc>) -> Result<(), String> {
        match self {
            Self::Campaign(input) => {
                let outcome = report.absorb_campaign(input.clone(), now);
                if outcome.changed() {
                    Ok(())
                } else {
                    Err(format!("campaign report left as it is: {outcome:?}"))
                }
            }
            Self::Contract(input) => {
                let outcome = report.attach_contract(input.contract_id.clone(), input.total, now);
                if outcome.changed() {
                    Ok(())
                } else {
                    Err(format!("contract not attached: {outcome:?}"))
                }
            }
        }
    }
}

fn required_id(field: &str, raw: Option<&str>) -> Result<ExternalId, EventError> {
    let raw = raw.ok_or_else(|| EventError::Permanent(format!("{field} is missing")))?;
    ExternalId::parse(raw).map_err(|error| EventError::Permanent(format!("{field}: {error}")))
}

/// An optional reference from another producer: one we cannot store is left out rather
/// than losing the whole report.
fn optional_id(raw: Option<&str>) -> Option<ExternalId> {
    let raw = raw.map(str::trim).filter(|raw| !raw.is_empty())?;
    ExternalId::parse(raw)
        .inspect_err(|error| tracing::warn!(%error, "an unusable influencer id is left out"))
        .ok()
}

/// `datos_origen`: the event's fields as JSON. Wire floats are written as their
/// shortest text (`19.99`, not the `19.989999771118164` the `f32` widens to).
fn source_data(payload: &impl Serialize) -> Result<Value, EventError> {
    let mut data = serde_json::to_value(payload)
        .map_err(|error| EventError::Permanent(format!("unreadable payload: {error}")))?;
    if let Value::Object(fields) = &mut data {
        for value in fields.values_mut() {
            if let Some(wide) = value
                .as_f64()
                .filter(|_| !value.is_i64() && !value.is_u64())
            {
                // These payloads' only fractional numbers are `f32` fields: exact here.
                #[allow(clippy::cast_possible_truncation)]
                let written = (wide as f32).to_string();
                if let Some(number) = written
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    *value = Value::Number(number);
                }
            }
        }
    }
    Ok(data)
}

/// What deciding an event committed.
struct Decided {
    handled: Handled,
    /// Outbox rows to publish now.
    announced: Vec<Enqueued>,
}

/// Decides `fact` for its campaign in one transaction: inbox record, report write and
/// outbox rows commit together or not at all (SPEC section 8).
#[tracing::instrument(name = "decide report", skip_all, fields(db.system = "postgresql"))]
async fn decide(
    runtime: &Runtime,
    fact: &Fact,
    cause: &EventMetadata,
) -> Result<Decided, StoreError> {
    let mut tx = runtime.pool.begin().await?;
    if !inbox::record(&mut tx, NAME, &cause.event_id.to_string()).await? {
        return Ok(Decided {
            handled: Handled::Duplicate,
            announced: Vec::new(),
        });
    }
    let campaign_id = fact.campaign_id().as_str();
    // Serializes with compensate-report's decisions about this campaign.
    reports::lock_campaign(&mut tx, campaign_id).await?;
    let now = Utc::now();
    let (report, kinds) = match reports::find_by_campaign_for_update(&mut tx, campaign_id).await? {
        None => {
            let pending = reports::pending_compensation(&mut tx, campaign_id).await?;
            let report = fact.new_report(pending, now);
            reports::insert(&mut tx, &report).await?;
            let kinds = if report.state() == ReportState::Cancelado {
                vec![ReportEventType::Created, ReportEventType::Compensated]
            } else {
                vec![ReportEventType::Created]
            };
            (report, kinds)
        }
        Some(mut report) => match fact.apply_to(&mut report, now) {
            Ok(()) => {
                reports::update(&mut tx, &report).await?;
                (report, vec![ReportEventType::Updated])
            }
            Err(why) => {
                // Recorded in the inbox all the same: a redelivery is a plain duplicate.
                tx.commit().await?;
                return Ok(Decided {
                    handled: Handled::Ignored(why),
                    announced: Vec::new(),
                });
            }
        },
    };
    let mut announced = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let event = report_event(&report, kind);
        let message = OutboxMessage::new(&event, &cause.follow_up(&event, NAME))
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        announced.push(runtime.enqueue(&mut tx, message).await?);
    }
    tx.commit().await?;
    tracing::info!(report_id = %report.id(), estado = report.state().as_str(), "report written");
    Ok(Decided {
        handled: Handled::Applied,
        announced,
    })
}

/// The campaign and contract events.
struct Reports {
    runtime: Runtime,
}

impl EventHandler for Reports {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::Campanas, Topic::Contratos]
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        let fact = Fact::read(&delivery.event)?;
        let mut attempt = 1;
        let decided = loop {
            match decide(&self.runtime, &fact, &delivery.metadata).await {
                // Another writer created the campaign's report between our read and our
                // insert: everything rolled back; decide again against its report.
                Err(StoreError::Conflict(Constraint::ReportPerCampaign))
                    if attempt < DECISION_ATTEMPTS =>
                {
                    tracing::info!(
                        attempt,
                        "lost the race for the campaign's report, deciding again"
                    );
                    attempt += 1;
                }
                result => break result?,
            }
        };
        self.runtime.publish_committed(decided.announced).await;
        Ok(decided.handled)
    }
}
