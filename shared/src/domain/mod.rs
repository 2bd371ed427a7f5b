//! The pure domain: aggregates, value objects, rules. No I/O.
//!
//! Raw input (`New*` structs, event terms) is validated once, here, into typed values
//! (`Email::parse`, `Money::new`); everything behind the constructors trusts the types.
//! Bad input is a [`ValidationErrors`] listing every refused field (a 422); a broken
//! business rule is a [`DomainError`] (a 409, or a saga rejection).
//!
//! - Value objects: [`PersonName`], [`CampaignName`], [`LongText`], [`ExternalId`],
//!   [`Email`], [`WebsiteUrl`], [`Phone`], [`Categories`], [`Platforms`], [`Currency`],
//!   [`Money`], [`CancellationReason`].
//! - Vocabularies: [`CommissionType`], [`ContractType`], [`ReportType`], [`Platform`] and
//!   the states in [`states`], each with its wire spelling (`as_str`) and `FromStr`.
//! - Aggregates: [`Influencer`], [`Campaign`], [`Contract`] (+ [`check_can_sign`]),
//!   [`Report`].

mod campaign;
mod categories;
mod compensation;
mod contract;
mod contract_rules;
mod email;
mod error;
mod influencer;
mod kinds;
mod money;
mod period;
mod phone;
mod platform;
mod report;
pub mod states;
mod text;
mod website;
pub(crate) mod wire_enum;

pub use campaign::{
    Campaign, CampaignInfluencer, CampaignRecord, CreateCampaign, NewCampaign, WelcomeInfluencer,
};
pub use categories::Categories;
pub use compensation::{CancellationReason, CompensateCampaign};
pub use contract::{
    CampaignContractTerms, Contract, ContractRecord, NewContract, SignCampaignContract,
    SignContract,
};
pub use contract_rules::{ContractRuleViolation, SignDecision, SigningChannel, check_can_sign};
pub use email::Email;
pub use error::{DomainError, FieldError, InvalidValue, ValidationErrors};
pub use influencer::{Influencer, InfluencerRecord, NewInfluencer, RegisterInfluencer};
pub use kinds::{CommissionType, ContractType, ReportType};
pub use money::{Currency, Money};
pub use period::parse_rfc3339;
pub use phone::Phone;
pub use platform::{Platform, Platforms};
pub use report::{
    AbsorbOutcome, AttachOutcome, AttachedContract, CampaignReportInput, CancelOutcome,
    ContractReportInput, Report, ReportRecord,
};
pub use states::{
    CampaignState, ContractState, InfluencerState, Lifecycle, ReportState, Transition,
};
pub use text::{CampaignName, ExternalId, LongText, PersonName};
pub use website::WebsiteUrl;
pub use wire_enum::UnknownVariant;
