//! The contract aggregate (context `alpes`). The signing rules are in
//! [`super::contract_rules`].

use super::period::at_storage_precision;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::error::{AtField, DomainError, FieldError, InvalidValue, ValidationErrors};
use super::kinds::ContractType;
use super::money::{Currency, Money};
use super::period::{check_end_after, parse_rfc3339};
use super::states::{ContractState, Transition, advance};
use super::text::{ExternalId, LongText, optional, required};

/// A contract's terms as they arrive over the API, before any check. Every field is
/// optional here so that a missing one becomes a field error in the list instead of an
/// input that cannot be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewContract {
    pub influencer_id: Option<String>,
    pub campaign_id: Option<String>,
    pub total_amount: Option<Decimal>,
    pub currency: Option<String>,
    pub contract_type: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub deliverables: Option<String>,
}

/// The command to sign a contract under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignContract {
    pub id: Uuid,
    pub terms: NewContract,
}

/// The contract step of the saga that a campaign event asks for: the campaign's terms as
/// sent, and the (campaign, influencer) pair it is about, trimmed, when the event names
/// both (one outcome per pair, however many messages carry it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignCampaignContract {
    pub pair: Option<(String, String)>,
    pub terms: CampaignContractTerms,
}

/// The fields of an `EventoCampanaCreada` a contract is made from, as they arrive off
/// the wire (Avro: every field nullable, amounts as `float`). Field errors name the
/// event's fields (`campana_id`, `monto_base`, ...), which is what `error_detalle`
/// should tell the producer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignContractTerms {
    pub campaign_id: Option<String>,
    pub influencer_id: Option<String>,
    pub base_amount: Option<f32>,
    pub commission_value: Option<f32>,
    pub currency: Option<String>,
    pub contract_type: Option<String>,
    pub deliverables: Option<String>,
}

impl CampaignContractTerms {
    /// The amount the campaign offers, with the event field it comes from: `monto_base`,
    /// or `valor_comision` when `monto_base` is absent or zero (the existing producers'
    /// `monto_base or valor_comision`).
    pub fn offered(&self) -> Option<(&'static str, f32)> {
        match (self.base_amount, self.commission_value) {
            (Some(base), _) if base != 0.0 => Some(("monto_base", base)),
            (_, Some(commission)) => Some(("valor_comision", commission)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    id: Uuid,
    influencer_id: ExternalId,
    campaign_id: ExternalId,
    total: Money,
    contract_type: ContractType,
    start_date: Option<DateTime<Utc>>,
    end_date: Option<DateTime<Utc>>,
    deliverables: Option<LongText>,
    state: ContractState,
    created_at: DateTime<Utc>,
}

/// Every field of a stored contract, for the repository to rebuild one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRecord {
    pub id: Uuid,
    pub influencer_id: ExternalId,
    pub campaign_id: ExternalId,
    pub total: Money,
    pub contract_type: ContractType,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub deliverables: Option<LongText>,
    pub state: ContractState,
    pub created_at: DateTime<Utc>,
}

impl Contract {
    /// Validates a `POST /contratos` body, reporting every bad field at once. The
    /// contract starts `activo`. Whether it may be signed at all is
    /// [`super::check_can_sign`]'s question, which needs what the store holds.
    pub fn sign(
        input: NewContract,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let now = at_storage_precision(now);
        let influencer_id =
            required(input.influencer_id.as_deref(), ExternalId::parse).at("id_influencer");
        let campaign_id =
            required(input.campaign_id.as_deref(), ExternalId::parse).at("id_campana");
        let currency = optional(input.currency.as_deref(), Currency::parse)
            .map(Option::unwrap_or_default)
            .at("moneda");
        // Checked even when the currency is bad so every error is reported at once.
        let money_currency = currency.as_ref().copied().unwrap_or_default();
        let total = input
            .total_amount
            .map_or_else(
                || Err(InvalidValue::required()),
                |amount| Money::positive(amount, money_currency),
            )
            .at("monto_total");
        let contract_type = parse_contract_type(input.contract_type.as_deref()).at("tipo_contrato");
        let start_date = optional(input.start_date.as_deref(), parse_rfc3339).at("fecha_inicio");
        let end_date = optional(input.end_date.as_deref(), parse_rfc3339)
            .and_then(|end| match (end, &start_date) {
                (Some(end), Ok(Some(start))) => {
                    check_end_after(*start, end, "fecha_inicio").map(|()| Some(end))
                }
                (end, _) => Ok(end),
            })
            .at("fecha_fin");
        let deliverables =
            optional(input.deliverables.as_deref(), LongText::parse).at("entregables");

        match (
            influencer_id,
            campaign_id,
            total,
            currency,
            contract_type,
            start_date,
            end_date,
            deliverables,
        ) {
            (
                Ok(influencer_id),
                Ok(campaign_id),
                Ok(total),
                Ok(_),
                Ok(contract_type),
                Ok(start_date),
                Ok(end_date),
                Ok(deliverables),
            ) => Ok(Self {
                id,
                influencer_id,
                campaign_id,
                total,
                contract_type,
                start_date,
                end_date,
                deliverables,
                state: ContractState::Activo,
                created_at: now,
            }),
            (
                influencer_id,
                campaign_id,
                total,
                currency,
                contract_type,
                start_date,
                end_date,
                deliverables,
            ) => Err(ValidationErrors::gather([
                influencer_id.err(),
                campaign_id.err(),
                currency.err(),
                total.err(),
                contract_type.err(),
                start_date.err(),
                end_date.err(),
                deliverables.err(),
            ])),
        }
    }

    /// The contract a campaign event asks for (SPEC section 3, send-contract):
    /// `monto_total` is the amount the campaign [offers](CampaignContractTerms::offered),
    /// converted from the wire float; the campaign's `moneda` (default USD), `tipo_contrato` (default
    /// puntual) and `entregables`. No dates: the spec does not carry them over.
    pub fn from_campaign_event(
        terms: CampaignContractTerms,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let now = at_storage_precision(now);
        let campaign_id =
            required(terms.campaign_id.as_deref(), ExternalId::parse).at("campana_id");
        let influencer_id =
            required(terms.influencer_id.as_deref(), ExternalId::parse).at("influencer_id");
        let currency = optional(terms.currency.as_deref(), Currency::parse)
            .map(Option::unwrap_or_default)
            .at("moneda");
        let money_currency = currency.as_ref().copied().unwrap_or_default();
        let total = event_amount(&terms, money_currency);
        let contract_type = parse_contract_type(terms.contract_type.as_deref()).at("tipo_contrato");
        let deliverables =
            optional(terms.deliverables.as_deref(), LongText::parse).at("entregables");

        match (
            campaign_id,
            influencer_id,
            currency,
            total,
            contract_type,
            deliverables,
        ) {
            (
                Ok(campaign_id),
                Ok(influencer_id),
                Ok(_),
                Ok(total),
                Ok(contract_type),
                Ok(deliverables),
            ) => Ok(Self {
                id,
                influencer_id,
                campaign_id,
                total,
                contract_type,
                start_date: None,
                end_date: None,
                deliverables,
                state: ContractState::Activo,
                created_at: now,
            }),
            (campaign_id, influencer_id, currency, total, contract_type, deliverables) => {
                Err(ValidationErrors::gather([
                    campaign_id.err(),
                    influencer_id.err(),
                    currency.err(),
                    total.err(),
                    contract_type.err(),
                    deliverables.err(),
                ]))
            }
        }
    }

    /// Rebuilds a stored contract; its values were validated when first stored.
    pub fn restore(record: ContractRecord) -> Self {
        Self {
            id: record.id,
            influencer_id: record.influencer_id,
            campaign_id: record.campaign_id,
            total: record.total,
            contract_type: record.contract_type,
            start_date: record.start_date,
            end_date: record.end_date,
            deliverables: record.deliverables,
            state: record.state,
            created_at: record.created_at,
        }
    }

    pub fn into_record(self) -> ContractRecord {
        ContractRecord {
            id: self.id,
            influencer_id: self.influencer_id,
            campaign_id: self.campaign_id,
            total: self.total,
            contract_type: self.contract_type,
            start_date: self.start_date,
            end_date: self.end_date,
            deliverables: self.deliverables,
            state: self.state,
            created_at: self.created_at,
        }
    }

    /// Whether `other` is the same agreement: everything but identity, state and
    /// creation time. A replay of the same request must match this.
    pub fn same_terms(&self, other: &Contract) -> bool {
        self.influencer_id == other.influencer_id
            && self.campaign_id == other.campaign_id
            && self.total == other.total
            && self.contract_type == other.contract_type
            && self.start_date == other.start_date
            && self.end_date == other.end_date
            && self.deliverables == other.deliverables
    }

    pub fn cancel(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, ContractState::Cancelado)
    }

    pub fn complete(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, ContractState::Completado)
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn influencer_id(&self) -> &ExternalId {
        &self.influencer_id
    }

    pub fn campaign_id(&self) -> &ExternalId {
        &self.campaign_id
    }

    /// `monto_total` with `moneda`.
    pub fn total(&self) -> Money {
        self.total
    }

    pub fn contract_type(&self) -> ContractType {
        self.contract_type
    }

    pub fn start_date(&self) -> Option<DateTime<Utc>> {
        self.start_date
    }

    pub fn end_date(&self) -> Option<DateTime<Utc>> {
        self.end_date
    }

    pub fn deliverables(&self) -> Option<&LongText> {
        self.deliverables.as_ref()
    }

    pub fn state(&self) -> ContractState {
        self.state
    }

    /// Whether this contract counts for the exclusivity rule.
    pub fn is_active_exclusive(&self) -> bool {
        self.state == ContractState::Activo && self.contract_type == ContractType::Exclusivo
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

fn parse_contract_type(raw: Option<&str>) -> Result<ContractType, InvalidValue> {
    optional(raw, |value| {
        value.parse::<ContractType>().map_err(InvalidValue::from)
    })
    .map(Option::unwrap_or_default)
}

fn event_amount(
    terms: &CampaignContractTerms,
    currency: Currency,
) -> Result<Money, ValidationErrors> {
    let (field, amount) = match (terms.offered(), terms.base_amount) {
        (Some(offered), _) => offered,
        // Nothing offered but a zero `monto_base`: refused as not positive.
        (None, Some(zero)) => ("monto_base", zero),
        (None, None) => {
            return Err(FieldError::new("monto_base", "is required (or valor_comision)").into());
        }
    };
    Money::from_wire_f32(amount, currency)
        .and_then(Money::ensure_positive)
        .at(field)
}

#[cfg(test)]
mod tests;
