//! The campaign aggregate (context `alpes`).

use super::period::at_storage_precision;
use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::categories::Categories;
use super::email::Email;
use super::error::{AtField, DomainError, FieldError, InvalidValue, ValidationErrors};
use super::kinds::{CommissionType, ContractType};
use super::money::{Currency, Money};
use super::period::{check_end_after, parse_rfc3339};
use super::states::{CampaignState, Transition, advance};
use super::text::{CampaignName, ExternalId, LongText, PersonName, optional, required};

/// A campaign as it arrives (`POST /campanas`), before any check. Every field is
/// optional here so that a missing one becomes a field error in the list instead of an
/// input that cannot be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCampaign {
    pub name: Option<String>,
    pub description: Option<String>,
    pub commission_type: Option<String>,
    pub commission_value: Option<Decimal>,
    pub currency: Option<String>,
    pub target_categories: Option<Vec<String>>,
    /// RFC 3339; parsed here so a bad date is a field error like any other.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub influencer_id: Option<String>,
    pub influencer_name: Option<String>,
    pub influencer_email: Option<String>,
    pub contract_type: Option<String>,
    pub base_amount: Option<Decimal>,
    pub deliverables: Option<String>,
}

/// The command to create a campaign under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCampaign {
    pub id: Uuid,
    pub details: NewCampaign,
}

/// The command to give a newly registered influencer its welcome campaign (targeting
/// `categories`, possibly none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeInfluencer {
    pub influencer: CampaignInfluencer,
    pub categories: Categories,
}

/// The influencer a campaign is made for. One value so "all three or none" (SPEC
/// section 3) cannot be broken after construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignInfluencer {
    pub id: ExternalId,
    pub name: PersonName,
    pub email: Email,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    id: Uuid,
    name: CampaignName,
    description: LongText,
    commission_type: CommissionType,
    commission: Money,
    target_categories: Categories,
    start_date: DateTime<Utc>,
    end_date: Option<DateTime<Utc>>,
    influencer: Option<CampaignInfluencer>,
    contract_type: ContractType,
    base_amount: Money,
    deliverables: Option<LongText>,
    welcome: bool,
    state: CampaignState,
    created_at: DateTime<Utc>,
}

/// Every field of a stored campaign, for the repository to rebuild one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRecord {
    pub id: Uuid,
    pub name: CampaignName,
    pub description: LongText,
    pub commission_type: CommissionType,
    pub commission: Money,
    pub target_categories: Categories,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub influencer: Option<CampaignInfluencer>,
    pub contract_type: ContractType,
    pub base_amount: Money,
    pub deliverables: Option<LongText>,
    pub welcome: bool,
    pub state: CampaignState,
    pub created_at: DateTime<Utc>,
}

impl Campaign {
    /// How long the welcome campaign runs (SPEC section 3).
    pub const WELCOME_DAYS: i64 = 90;

    /// Validates a `POST /campanas` body, reporting every bad field at once. The
    /// campaign starts `activa`; absent fields take the spec's defaults.
    pub fn create(
        input: NewCampaign,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let now = at_storage_precision(now);
        let name = required(input.name.as_deref(), CampaignName::parse).at("nombre");
        let description = required(input.description.as_deref(), LongText::parse).at("descripcion");
        let commission_type = optional(input.commission_type.as_deref(), parse_kind)
            .map(Option::unwrap_or_default)
            .at("tipo_comision");
        let currency = optional(input.currency.as_deref(), Currency::parse)
            .map(Option::unwrap_or_default)
            .at("moneda");
        // Amounts are checked even when the currency is bad, so the client sees every
        // error at once; the placeholder never escapes because the result is then Err.
        let money_currency = currency.as_ref().copied().unwrap_or_default();
        let commission =
            required_amount(input.commission_value, money_currency).at("valor_comision");
        let base_amount = match input.base_amount {
            Some(amount) => Money::positive(amount, money_currency)
                .at("monto_base")
                .map(Some),
            None => Ok(None),
        };
        let target_categories = input.target_categories.as_deref().map_or_else(
            || Ok(Categories::empty()),
            |raw| Categories::parse_allowing_empty("categorias_objetivo", raw),
        );
        let start_date = optional(input.start_date.as_deref(), parse_rfc3339)
            .map(|start| start.unwrap_or(now))
            .at("fecha_inicio");
        let end_date = optional(input.end_date.as_deref(), parse_rfc3339).and_then(|end| {
            match (end, &start_date) {
                (Some(end), Ok(start)) => {
                    check_end_after(*start, end, "fecha_inicio").map(|()| Some(end))
                }
                (end, _) => Ok(end),
            }
        });
        let end_date = end_date.at("fecha_fin");
        let influencer = parse_influencer(&input);
        let contract_type = optional(input.contract_type.as_deref(), parse_kind)
            .map(Option::unwrap_or_default)
            .at("tipo_contrato");
        let deliverables =
            optional(input.deliverables.as_deref(), LongText::parse).at("entregables");

        match (
            name,
            description,
            commission_type,
            currency,
            commission,
            base_amount,
            target_categories,
            start_date,
            end_date,
            influencer,
            contract_type,
            deliverables,
        ) {
            (
                Ok(name),
                Ok(description),
                Ok(commission_type),
                Ok(_),
                Ok(commission),
                Ok(base_amount),
                Ok(target_categories),
                Ok(start_date),
                Ok(end_date),
                Ok(influencer),
                Ok(contract_type),
                Ok(deliverables),
            ) => Ok(Self {
                id,
                name,
                description,
                commission_type,
                commission,
                target_categories,
                start_date,
                end_date,
                influencer,
                contract_type,
                base_amount: base_amount.unwrap_or(commission),
                deliverables,
                welcome: false,
                state: CampaignState::Activa,
                created_at: now,
            }),
            (
                name,
                description,
                commission_type,
                currency,
                commission,
                base_amount,
                target_categories,
                start_date,
                end_date,
                influencer,
                contract_type,
                deliverables,
            ) => Err(ValidationErrors::gather([
                name.err(),
                description.err(),
                commission_type.err(),
                currency.err(),
                commission.err(),
                base_amount.err(),
                target_categories.err(),
                start_date.err(),
                end_date.err(),
                influencer.err(),
                contract_type.err(),
                deliverables.err(),
            ])),
        }
    }

    /// The campaign every newly registered influencer gets: cpa, 100.00 USD, their
    /// categories, from `now` for 90 days, `puntual`. The description tells the
    /// influencer (and whoever reads the campaign list) why it exists.
    pub fn welcome_for(
        influencer_id: ExternalId,
        name: PersonName,
        email: Email,
        categories: Categories,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Self {
        let now = at_storage_precision(now);
        let hundred_dollars = Money::new(Decimal::new(10_000, 2), Currency::USD)
            .expect("100.00 USD is a valid amount");
        let campaign_name = CampaignName::parse(&format!("Campaña de bienvenida para {name}"))
            .expect("a person name of at most 200 characters fits a campaign name");
        let description = LongText::parse(&format!(
            "Campaña creada automáticamente para dar la bienvenida a {name} a Alpes Partners."
        ))
        .expect("a person name of at most 200 characters fits a description");
        Self {
            id,
            name: campaign_name,
            description,
            commission_type: CommissionType::Cpa,
            commission: hundred_dollars,
            target_categories: categories,
            start_date: now,
            end_date: Some(now + TimeDelta::days(Self::WELCOME_DAYS)),
            influencer: Some(CampaignInfluencer {
                id: influencer_id,
                name,
                email,
            }),
            contract_type: ContractType::Puntual,
            base_amount: hundred_dollars,
            deliverables: None,
            welcome: true,
            state: CampaignState::Activa,
            created_at: now,
        }
    }

    /// Rebuilds a stored campaign; its values were validated when first stored.
    pub fn restore(record: CampaignRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            description: record.description,
            commission_type: record.commission_type,
            commission: record.commission,
            target_categories: record.target_categories,
            start_date: record.start_date,
            end_date: record.end_date,
            influencer: record.influencer,
            contract_type: record.contract_type,
            base_amount: record.base_amount,
            deliverables: record.deliverables,
            welcome: record.welcome,
            state: record.state,
            created_at: record.created_at,
        }
    }

    pub fn into_record(self) -> CampaignRecord {
        CampaignRecord {
            id: self.id,
            name: self.name,
            description: self.description,
            commission_type: self.commission_type,
            commission: self.commission,
            target_categories: self.target_categories,
            start_date: self.start_date,
            end_date: self.end_date,
            influencer: self.influencer,
            contract_type: self.contract_type,
            base_amount: self.base_amount,
            deliverables: self.deliverables,
            welcome: self.welcome,
            state: self.state,
            created_at: self.created_at,
        }
    }

    /// Publishes a draft or resumes a paused campaign.
    pub fn activate(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, CampaignState::Activa)
    }

    pub fn pause(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, CampaignState::Pausada)
    }

    pub fn finish(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, CampaignState::Finalizada)
    }

    pub fn cancel(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, CampaignState::Cancelada)
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn name(&self) -> &CampaignName {
        &self.name
    }

    pub fn description(&self) -> &LongText {
        &self.description
    }

    pub fn commission_type(&self) -> CommissionType {
        self.commission_type
    }

    /// `valor_comision` with the campaign's `moneda`.
    pub fn commission(&self) -> Money {
        self.commission
    }

    pub fn currency(&self) -> Currency {
        self.commission.currency()
    }

    pub fn target_categories(&self) -> &Categories {
        &self.target_categories
    }

    pub fn start_date(&self) -> DateTime<Utc> {
        self.start_date
    }

    pub fn end_date(&self) -> Option<DateTime<Utc>> {
        self.end_date
    }

    pub fn influencer(&self) -> Option<&CampaignInfluencer> {
        self.influencer.as_ref()
    }

    pub fn contract_type(&self) -> ContractType {
        self.contract_type
    }

    /// `monto_base`, in the campaign's `moneda`; `valor_comision` when not given.
    pub fn base_amount(&self) -> Money {
        self.base_amount
    }

    pub fn deliverables(&self) -> Option<&LongText> {
        self.deliverables.as_ref()
    }

    /// Whether this is an influencer's welcome campaign (at most one each: the store
    /// enforces it, this flag lets it).
    pub fn is_welcome(&self) -> bool {
        self.welcome
    }

    pub fn state(&self) -> CampaignState {
        self.state
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

fn parse_kind<K: std::str::FromStr<Err = super::UnknownVariant>>(
    raw: &str,
) -> Result<K, InvalidValue> {
    raw.parse().map_err(InvalidValue::from)
}

fn required_amount(amount: Option<Decimal>, currency: Currency) -> Result<Money, InvalidValue> {
    amount.map_or_else(
        || Err(InvalidValue::required()),
        |amount| Money::positive(amount, currency),
    )
}

/// The "together" rule: if any of the three is given, all three must be, and each
/// missing one is named so the client knows what to add.
fn parse_influencer(input: &NewCampaign) -> Result<Option<CampaignInfluencer>, ValidationErrors> {
    let raw = [
        input.influencer_id.as_deref(),
        input.influencer_name.as_deref(),
        input.influencer_email.as_deref(),
    ];
    if raw.iter().all(|value| !is_given(*value)) {
        return Ok(None);
    }
    let id = together_member(raw[0], "influencer_id", ExternalId::parse);
    let name = together_member(raw[1], "influencer_nombre", PersonName::parse);
    let email = together_member(raw[2], "influencer_email", Email::parse);
    match (id, name, email) {
        (Ok(id), Ok(name), Ok(email)) => Ok(Some(CampaignInfluencer { id, name, email })),
        (id, name, email) => Err(ValidationErrors::gather([
            id.err(),
            name.err(),
            email.err(),
        ])),
    }
}

fn is_given(raw: Option<&str>) -> bool {
    raw.is_some_and(|value| !value.trim().is_empty())
}

fn together_member<T>(
    raw: Option<&str>,
    field: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, ValidationErrors> {
    match raw {
        Some(value) if is_given(Some(value)) => parse(value).at(field),
        _ => Err(FieldError::new(
            field,
            "is required together with influencer_id, influencer_nombre and influencer_email",
        )
        .into()),
    }
}

#[cfg(test)]
mod tests;
