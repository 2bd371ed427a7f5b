//! The two signing rules of SPEC section 3, as one pure decision over what the store
//! found, so they are tested here and the store only has to fetch.

use uuid::Uuid;

use super::contract::Contract;
use super::text::ExternalId;

/// Where a signing request comes from. The same existing contract means different
/// things: over the API a second contract for a pair is a conflict (409); for a
/// campaign event it is that event's contract already made, i.e. a duplicate delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningChannel {
    Api,
    CampaignEvent,
}

/// What to do with a contract that broke no rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignDecision {
    /// Store it and emit `EventoContratoCreado`.
    Sign,
    /// The pair already has this contract: store nothing, emit nothing, answer with the
    /// existing one. Not a rejection (no `EventoContratoError`).
    AlreadySigned { existing: Uuid },
}

/// A signing rule said no: 409 over the API, `EventoContratoError` for an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractRuleViolation {
    /// One contract per (influencer, campaign).
    #[error("influencer {influencer} already has contract {existing} for campaign {campaign}")]
    PairAlreadyContracted {
        existing: Uuid,
        influencer: ExternalId,
        campaign: ExternalId,
    },
    /// At most one `activo` contract of type `exclusivo` per influencer.
    #[error("influencer {influencer} already holds the active exclusive contract {existing}")]
    ExclusiveAlreadyActive {
        existing: Uuid,
        influencer: ExternalId,
    },
    /// The id of a different contract was reused (idempotency: same id, other body).
    #[error("contract id {id} already belongs to a contract with different terms")]
    IdReused { id: Uuid },
}

/// Decides whether `new` may be stored, given the contracts the store holds for its
/// influencer (contracts of other influencers are ignored, except for an id clash).
///
/// In order: a contract with `new`'s id is a replay when its terms match and a
/// conflict when they do not; a contract for the same pair is a duplicate
/// ([`SigningChannel::CampaignEvent`]) or a conflict ([`SigningChannel::Api`]), whatever
/// its state, because the rule is one contract per pair, not one live contract; an
/// exclusive `new` conflicts with another `activo` exclusive contract. The exclusivity
/// rule limits exclusive contracts only: the spec does not let an exclusive contract
/// block other kinds, so it does not.
pub fn check_can_sign(
    new: &Contract,
    existing_for_influencer: &[Contract],
    channel: SigningChannel,
) -> Result<SignDecision, ContractRuleViolation> {
    if let Some(same_id) = existing_for_influencer.iter().find(|c| c.id() == new.id()) {
        return if same_id.same_terms(new) {
            Ok(SignDecision::AlreadySigned {
                existing: same_id.id(),
            })
        } else {
            Err(ContractRuleViolation::IdReused { id: new.id() })
        };
    }
    let mine = existing_for_influencer
        .iter()
        .filter(|c| c.influencer_id() == new.influencer_id());
    if let Some(pair) = mine.clone().find(|c| c.campaign_id() == new.campaign_id()) {
        return match channel {
            SigningChannel::CampaignEvent => Ok(SignDecision::AlreadySigned {
                existing: pair.id(),
            }),
            SigningChannel::Api => Err(ContractRuleViolation::PairAlreadyContracted {
                existing: pair.id(),
                influencer: new.influencer_id().clone(),
                campaign: new.campaign_id().clone(),
            }),
        };
    }
    if new.is_active_exclusive()
        && let Some(exclusive) = mine.clone().find(|c| c.is_active_exclusive())
    {
        return Err(ContractRuleViolation::ExclusiveAlreadyActive {
            existing: exclusive.id(),
            influencer: new.influencer_id().clone(),
        });
    }
    Ok(SignDecision::Sign)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::contract::NewContract;
    use crate::domain::states::Transition;

    fn contract(influencer: &str, campaign: &str, kind: &str) -> Contract {
        let input = NewContract {
            influencer_id: Some(influencer.into()),
            campaign_id: Some(campaign.into()),
            total_amount: Some(Decimal::new(50_000, 2)),
            contract_type: Some(kind.into()),
            ..NewContract::default()
        };
        Contract::sign(
            input,
            Uuid::now_v7(),
            Utc.with_ymd_and_hms(2025, 9, 20, 10, 0, 0).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn given_no_contracts_when_checked_then_sign() {
        let new = contract("inf-1", "camp-1", "exclusivo");

        assert_eq!(
            check_can_sign(&new, &[], SigningChannel::Api),
            Ok(SignDecision::Sign)
        );
    }

    #[test]
    fn given_contracts_for_other_campaigns_when_checked_then_sign() {
        let existing = [
            contract("inf-1", "camp-1", "puntual"),
            contract("inf-1", "camp-2", "temporal"),
        ];
        let new = contract("inf-1", "camp-3", "puntual");

        assert_eq!(
            check_can_sign(&new, &existing, SigningChannel::Api),
            Ok(SignDecision::Sign)
        );
    }

    #[test]
    fn given_pair_contracted_when_requested_over_api_then_conflict() {
        let existing = [contract("inf-1", "camp-1", "puntual")];
        let new = contract("inf-1", "camp-1", "puntual");

        let violation = check_can_sign(&new, &existing, SigningChannel::Api).unwrap_err();

        assert_eq!(
            violation,
            ContractRuleViolation::PairAlreadyContracted {
                existing: existing[0].id(),
                influencer: ExternalId::parse("inf-1").unwrap(),
                campaign: ExternalId::parse("camp-1").unwrap(),
            }
        );
        assert!(violation.to_string().contains("already has contract"));
    }

    #[test]
    fn given_pair_contracted_when_campaign_event_repeats_then_duplicate_not_rejection() {
        let existing = [contract("inf-1", "camp-1", "exclusivo")];
        let new = contract("inf-1", "camp-1", "exclusivo");

        assert_eq!(
            check_can_sign(&new, &existing, SigningChannel::CampaignEvent),
            Ok(SignDecision::AlreadySigned {
                existing: existing[0].id()
            })
        );
    }

    #[test]
    fn given_pair_contract_cancelled_when_requested_again_then_still_one_per_pair() {
        let mut cancelled = contract("inf-1", "camp-1", "puntual");
        assert_eq!(cancelled.cancel(), Ok(Transition::Changed));
        let new = contract("inf-1", "camp-1", "puntual");

        assert!(matches!(
            check_can_sign(&new, &[cancelled], SigningChannel::Api),
            Err(ContractRuleViolation::PairAlreadyContracted { .. })
        ));
    }

    #[test]
    fn given_active_exclusive_when_another_exclusive_then_conflict_on_any_channel() {
        let existing = [contract("inf-1", "camp-1", "exclusivo")];
        let new = contract("inf-1", "camp-2", "exclusivo");

        for channel in [SigningChannel::Api, SigningChannel::CampaignEvent] {
            assert_eq!(
                check_can_sign(&new, &existing, channel),
                Err(ContractRuleViolation::ExclusiveAlreadyActive {
                    existing: existing[0].id(),
                    influencer: ExternalId::parse("inf-1").unwrap(),
                })
            );
        }
    }

    #[test]
    fn given_finished_exclusive_when_another_exclusive_then_sign() {
        let mut completed = contract("inf-1", "camp-1", "exclusivo");
        assert_eq!(completed.complete(), Ok(Transition::Changed));
        let mut cancelled = contract("inf-1", "camp-2", "exclusivo");
        assert_eq!(cancelled.cancel(), Ok(Transition::Changed));
        let new = contract("inf-1", "camp-3", "exclusivo");

        assert_eq!(
            check_can_sign(&new, &[completed, cancelled], SigningChannel::Api),
            Ok(SignDecision::Sign)
        );
    }

    #[test]
    fn given_active_exclusive_when_a_non_exclusive_then_sign() {
        let existing = [contract("inf-1", "camp-1", "exclusivo")];
        let new = contract("inf-1", "camp-2", "colaboracion");

        assert_eq!(
            check_can_sign(&new, &existing, SigningChannel::Api),
            Ok(SignDecision::Sign)
        );
    }

    #[test]
    fn given_non_exclusive_actives_when_an_exclusive_then_sign() {
        let existing = [
            contract("inf-1", "camp-1", "puntual"),
            contract("inf-1", "camp-2", "temporal"),
        ];
        let new = contract("inf-1", "camp-3", "exclusivo");

        assert_eq!(
            check_can_sign(&new, &existing, SigningChannel::Api),
            Ok(SignDecision::Sign)
        );
    }

    #[test]
    fn given_another_influencers_exclusive_when_checked_then_ignored() {
        let existing = [contract("inf-2", "camp-1", "exclusivo")];
        let new = contract("inf-1", "camp-1", "exclusivo");

        assert_eq!(
            check_can_sign(&new, &existing, SigningChannel::Api),
            Ok(SignDecision::Sign)
        );
    }

    #[test]
    fn given_same_contract_replayed_when_checked_then_already_signed() {
        let new = contract("inf-1", "camp-1", "exclusivo");
        let stored = Contract::restore(new.clone().into_record());

        assert_eq!(
            check_can_sign(&new, &[stored], SigningChannel::Api),
            Ok(SignDecision::AlreadySigned { existing: new.id() })
        );
    }

    #[test]
    fn given_id_reused_with_other_terms_when_checked_then_conflict() {
        let new = contract("inf-1", "camp-1", "puntual");
        let mut other = contract("inf-1", "camp-2", "puntual").into_record();
        other.id = new.id();

        assert_eq!(
            check_can_sign(
                &new,
                &[Contract::restore(other)],
                SigningChannel::CampaignEvent
            ),
            Err(ContractRuleViolation::IdReused { id: new.id() })
        );
    }
}
