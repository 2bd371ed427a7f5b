//! The use cases: sign a contract over the API, decide a campaign's contract step (sign
//! or reject), find, list. Typed commands in, typed outcomes out; no HTTP, JSON or broker
//! types.
//!
//! Both signings decide in the transaction that stores: the rules (`check_can_sign`) run
//! on the influencer's contracts as this transaction reads them, and the database's
//! unique indexes catch a concurrent signing that committed since.

use alpes_shared::{
    domain::{
        CampaignContractTerms, Contract, ContractRuleViolation, SignCampaignContract, SignContract,
        SignDecision, SigningChannel, ValidationErrors, check_can_sign,
    },
    events::{
        ContratoCreadoPayload, ContratoErrorPayload, EventMetadata, IntegrationEvent, convert,
    },
    http::{Claimed, Origin, Runtime, Write},
    store::{
        Constraint, Page, StoreError,
        contracts::{self, ContractFilter},
        idempotency, inbox,
    },
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{NAME, REJECTED};

/// What an API signing did.
pub enum Signed {
    Created(Contract),
    /// The same create request (same `id`, same body) was answered before: its contract.
    Replayed(Contract),
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("invalid contract: {0}")]
    Invalid(ValidationErrors),
    /// A contract rule says no.
    #[error(transparent)]
    Refused(ContractRuleViolation),
    /// The id is taken: by another create request's body, or by a contract a campaign
    /// event made (`with_another_body` false).
    #[error("contract {id} conflicts")]
    IdTaken { id: Uuid, with_another_body: bool },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Signs a contract (`activo`) and announces it with `ContratoCreado`, in one
/// transaction; a refused contract stores and announces nothing.
#[tracing::instrument(name = "sign contract", skip_all, fields(db.system = "postgresql"))]
pub async fn sign(
    runtime: &Runtime,
    command: SignContract,
    claim: Option<&idempotency::Request>,
) -> Result<Signed, SignError> {
    let contract =
        Contract::sign(command.terms, command.id, Utc::now()).map_err(SignError::Invalid)?;
    let id_taken = |with_another_body| SignError::IdTaken {
        id: contract.id(),
        with_another_body,
    };
    let origin = Origin::Api(claim);
    let mut write = match runtime.begin_api_write(claim).await? {
        Claimed::Write(write) => write,
        Claimed::Replay(id) => {
            let stored = find(runtime, id).await?.ok_or_else(|| id_taken(false))?;
            return Ok(Signed::Replayed(stored));
        }
        Claimed::IdConflict(_) => return Err(id_taken(true)),
    };
    let held = contracts::for_influencer(write.conn(), contract.influencer_id().as_str()).await?;
    match check_can_sign(&contract, &held, SigningChannel::Api) {
        Ok(SignDecision::Sign) => {}
        // The same contract, made by a campaign event: not this request's to replay.
        Ok(SignDecision::AlreadySigned { .. }) => return Err(id_taken(false)),
        Err(violation) => return Err(SignError::Refused(violation)),
    }
    match contracts::insert(write.conn(), &contract).await {
        Err(StoreError::Conflict(Constraint::PrimaryKey(_))) => return Err(id_taken(false)),
        other => other?,
    }
    let event = created_event(&contract);
    // The campaign's saga, as far as this function can tell: a consumer of a message
    // without properties infers the same (`id_campana`).
    let metadata = origin.metadata(&event, contract.campaign_id().to_string(), NAME);
    write.announce(&event, &metadata).await?;
    write.commit().await?;
    Ok(Signed::Created(contract))
}

/// What a campaign's contract step came to.
pub enum Step {
    Signed(Contract),
    /// `ContratoError` announced, no contract: the saga compensates.
    Rejected {
        detail: String,
    },
    /// This event, or another message carrying the same campaign's step, was handled.
    AlreadyHandled,
    /// The pair already has its contract (made over the API, or by an earlier event).
    AlreadySigned {
        existing: Uuid,
    },
}

/// The contract step of the saga: the campaign's contract, or a rejection
/// (`ContratoError`). One outcome per (campaign, influencer), however many messages
/// carry it.
pub async fn sign_for_campaign(
    runtime: &Runtime,
    command: SignCampaignContract,
    cause: &EventMetadata,
) -> Result<Step, StoreError> {
    let proposed = Contract::from_campaign_event(command.terms.clone(), Uuid::now_v7(), Utc::now());
    let decide_now =
        |forced_rejection| decide(runtime, &command, &proposed, cause, forced_rejection);
    // Losing a unique race means a concurrent signing committed between our read and
    // our insert, and our transaction rolled back: decide once more on what is stored
    // now. Should that race be lost too, the constraint itself is the answer.
    match decide_now(None).await {
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
    }
}

/// One transaction: the inbox entries (the event's id and the step's key), the decision
/// on what is stored, and its effects (the contract and `ContratoCreado`, or only
/// `ContratoError`). `forced_rejection` skips the rules and rejects with that reason. A
/// lost unique race comes back as `StoreError::Conflict`, with nothing committed.
#[tracing::instrument(name = "decide contract", skip_all, fields(db.system = "postgresql"))]
async fn decide(
    runtime: &Runtime,
    command: &SignCampaignContract,
    proposed: &Result<Contract, ValidationErrors>,
    cause: &EventMetadata,
    forced_rejection: Option<String>,
) -> Result<Step, StoreError> {
    let origin = Origin::Event(cause);
    let Some(mut write) = runtime.begin_event_write(cause).await? else {
        return Ok(Step::AlreadyHandled);
    };
    if let Some((campaign, influencer)) = &command.pair {
        let step_key = format!("CampanaCreada:{campaign}:{influencer}");
        if !inbox::record(write.conn(), NAME, &step_key).await? {
            // Keep this delivery's id too, so its next redelivery stops at the first check.
            write.commit().await?;
            return Ok(Step::AlreadyHandled);
        }
    }
    let terms = &command.terms;
    let contract = match (proposed, forced_rejection) {
        (Err(errors), _) => {
            let detail = format!("the campaign's contract terms are invalid: {errors}");
            return reject(write, origin, terms, None, detail).await;
        }
        (Ok(contract), Some(detail)) => {
            return reject(write, origin, terms, Some(contract), detail).await;
        }
        (Ok(contract), None) => contract,
    };
    let held = contracts::for_influencer(write.conn(), contract.influencer_id().as_str()).await?;
    match check_can_sign(contract, &held, SigningChannel::CampaignEvent) {
        Ok(SignDecision::Sign) => {
            contracts::insert(write.conn(), contract).await?;
            let event = created_event(contract);
            let metadata = origin.metadata(&event, contract.campaign_id().to_string(), NAME);
            write.announce(&event, &metadata).await?;
            write.commit().await?;
            Ok(Step::Signed(contract.clone()))
        }
        Ok(SignDecision::AlreadySigned { existing }) => {
            write.commit().await?;
            Ok(Step::AlreadySigned { existing })
        }
        Err(violation) => reject(write, origin, terms, Some(contract), violation.to_string()).await,
    }
}

/// Commits the rejection: `ContratoError` in the outbox, beside the inbox entries already
/// in `write`, and no contract.
async fn reject(
    mut write: Write,
    origin: Origin<'_>,
    terms: &CampaignContractTerms,
    proposed: Option<&Contract>,
    detail: String,
) -> Result<Step, StoreError> {
    let event = rejection_event(terms, proposed, &detail, Utc::now());
    let correlation = terms.campaign_id.clone().unwrap_or_default();
    write
        .announce(&event, &origin.metadata(&event, correlation, NAME))
        .await?;
    write.commit().await?;
    Ok(Step::Rejected { detail })
}

pub async fn find(runtime: &Runtime, id: Uuid) -> Result<Option<Contract>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    contracts::find(&mut conn, id).await
}

/// A page of contracts, ordered by `fecha_creacion` then `id`.
pub async fn list(
    runtime: &Runtime,
    filter: &ContractFilter,
    page: Page,
) -> Result<Vec<Contract>, StoreError> {
    let mut conn = runtime.pool.acquire().await?;
    contracts::list(&mut conn, filter, page).await
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

/// The `ContratoError` of a rejected step: the ids as the campaign event named them, the
/// terms the contract would have had (or, when they were invalid, as sent), no
/// `id_contrato` because no contract exists.
fn rejection_event(
    terms: &CampaignContractTerms,
    proposed: Option<&Contract>,
    detail: &str,
    now: DateTime<Utc>,
) -> IntegrationEvent {
    IntegrationEvent::from(ContratoErrorPayload {
        id_contrato: None,
        id_influencer: terms.influencer_id.clone(),
        id_campana: terms.campaign_id.clone(),
        monto_total: proposed.map_or(terms.offered().map(|(_, amount)| amount), |contract| {
            Some(convert::money_to_wire(contract.total().amount()))
        }),
        moneda: proposed.map_or_else(
            || terms.currency.clone(),
            |contract| Some(contract.total().currency().to_string()),
        ),
        tipo_contrato: proposed.map_or_else(
            || terms.contract_type.clone(),
            |contract| Some(contract.contract_type().as_str().to_owned()),
        ),
        fecha_creacion: Some(convert::format_wire_datetime(now)),
        error: Some(REJECTED.to_owned()),
        error_detalle: Some(detail.to_owned()),
    })
}
