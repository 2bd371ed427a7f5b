use std::str::FromStr;

use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 20, 10, 0, 0).unwrap()
}

fn dec(raw: &str) -> Decimal {
    Decimal::from_str(raw).unwrap()
}

fn minimal_input() -> NewContract {
    NewContract {
        influencer_id: Some("inf-12345".into()),
        campaign_id: Some("camp-67890".into()),
        total_amount: Some(dec("1500")),
        ..NewContract::default()
    }
}

fn sign(input: NewContract) -> Result<Contract, ValidationErrors> {
    Contract::sign(input, Uuid::nil(), now())
}

fn refused_fields(input: NewContract) -> Vec<String> {
    sign(input)
        .unwrap_err()
        .into_iter()
        .map(|error| error.field)
        .collect()
}

fn event_terms() -> CampaignContractTerms {
    CampaignContractTerms {
        campaign_id: Some("camp-67890".into()),
        influencer_id: Some("inf-12345".into()),
        base_amount: Some(250.5),
        commission_value: Some(19.99),
        currency: Some("cop".into()),
        contract_type: Some("exclusivo".into()),
        deliverables: Some("2 reels".into()),
    }
}

fn from_event(terms: CampaignContractTerms) -> Result<Contract, ValidationErrors> {
    Contract::from_campaign_event(terms, Uuid::nil(), now())
}

#[test]
fn given_minimal_input_when_signed_then_activo_with_defaults() {
    let contract = sign(minimal_input()).unwrap();

    assert_eq!(contract.id(), Uuid::nil());
    assert_eq!(contract.influencer_id().as_str(), "inf-12345");
    assert_eq!(contract.campaign_id().as_str(), "camp-67890");
    assert_eq!(contract.total().amount().to_string(), "1500.00");
    assert_eq!(contract.total().currency(), Currency::USD);
    assert_eq!(contract.contract_type(), ContractType::Puntual);
    assert_eq!(contract.start_date(), None);
    assert_eq!(contract.end_date(), None);
    assert_eq!(contract.deliverables(), None);
    assert_eq!(contract.state(), ContractState::Activo);
    assert_eq!(contract.created_at(), now());
}

#[test]
fn given_every_field_when_signed_then_all_are_kept() {
    let input = NewContract {
        currency: Some("eur".into()),
        contract_type: Some("Temporal".into()),
        start_date: Some("2025-10-01T00:00:00Z".into()),
        end_date: Some("2025-11-01T00:00:00Z".into()),
        deliverables: Some("4 historias".into()),
        ..minimal_input()
    };

    let contract = sign(input).unwrap();

    assert_eq!(contract.total().currency().as_str(), "EUR");
    assert_eq!(contract.contract_type(), ContractType::Temporal);
    assert_eq!(
        contract.start_date(),
        Some(Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(
        contract.end_date(),
        Some(Utc.with_ymd_and_hms(2025, 11, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(contract.deliverables().unwrap().as_str(), "4 historias");
}

#[test]
fn given_empty_input_when_signed_then_every_required_field_is_listed() {
    assert_eq!(
        refused_fields(NewContract::default()),
        ["id_influencer", "id_campana", "monto_total"]
    );
}

#[test]
fn given_non_positive_or_too_precise_total_when_signed_then_refused() {
    for amount in ["0", "-1", "10.001"] {
        let input = NewContract {
            total_amount: Some(dec(amount)),
            ..minimal_input()
        };
        assert_eq!(refused_fields(input), ["monto_total"], "{amount}");
    }
}

#[test]
fn given_every_field_invalid_when_signed_then_all_errors_are_collected() {
    let input = NewContract {
        influencer_id: Some(" ".into()),
        campaign_id: Some("x".repeat(201)),
        total_amount: Some(dec("-3")),
        currency: Some("US".into()),
        contract_type: Some("vitalicio".into()),
        start_date: Some("hoy".into()),
        end_date: Some("mañana".into()),
        deliverables: Some("d".repeat(2001)),
    };

    assert_eq!(
        refused_fields(input),
        [
            "id_influencer",
            "id_campana",
            "moneda",
            "monto_total",
            "tipo_contrato",
            "fecha_inicio",
            "fecha_fin",
            "entregables"
        ]
    );
}

#[test]
fn given_end_not_after_start_when_signed_then_refused() {
    let input = NewContract {
        start_date: Some("2025-10-01T00:00:00Z".into()),
        end_date: Some("2025-10-01T00:00:00+00:00".into()),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["fecha_fin"]);
}

#[test]
fn given_only_an_end_date_when_signed_then_accepted() {
    let input = NewContract {
        end_date: Some("2020-01-01T00:00:00Z".into()),
        ..minimal_input()
    };

    assert!(sign(input).is_ok());
}

#[test]
fn given_campaign_event_when_contracted_then_takes_the_campaign_terms() {
    let contract = from_event(event_terms()).unwrap();

    assert_eq!(contract.campaign_id().as_str(), "camp-67890");
    assert_eq!(contract.influencer_id().as_str(), "inf-12345");
    assert_eq!(contract.total().amount().to_string(), "250.50");
    assert_eq!(contract.total().currency().as_str(), "COP");
    assert_eq!(contract.contract_type(), ContractType::Exclusivo);
    assert_eq!(contract.deliverables().unwrap().as_str(), "2 reels");
    assert_eq!(contract.state(), ContractState::Activo);
    assert_eq!(contract.start_date(), None);
}

#[test]
fn given_campaign_event_without_base_amount_when_contracted_then_commission_is_the_total() {
    for base_amount in [None, Some(0.0)] {
        let terms = CampaignContractTerms {
            base_amount,
            ..event_terms()
        };

        let contract = from_event(terms).unwrap();

        assert_eq!(contract.total().amount().to_string(), "19.99");
    }
}

#[test]
fn given_campaign_terms_then_the_offer_is_monto_base_or_valor_comision() {
    for (base_amount, commission_value, offered) in [
        (Some(1.5), Some(2.0), Some(("monto_base", 1.5))),
        (Some(0.0), Some(2.0), Some(("valor_comision", 2.0))),
        (None, Some(2.0), Some(("valor_comision", 2.0))),
        (Some(0.0), None, None),
        (None, None, None),
    ] {
        let terms = CampaignContractTerms {
            base_amount,
            commission_value,
            ..event_terms()
        };
        assert_eq!(
            terms.offered(),
            offered,
            "{base_amount:?} {commission_value:?}"
        );
    }
}

#[test]
fn given_campaign_event_without_optional_terms_when_contracted_then_defaults_apply() {
    let terms = CampaignContractTerms {
        currency: None,
        contract_type: None,
        deliverables: None,
        ..event_terms()
    };

    let contract = from_event(terms).unwrap();

    assert_eq!(contract.total().currency(), Currency::USD);
    assert_eq!(contract.contract_type(), ContractType::Puntual);
    assert_eq!(contract.deliverables(), None);
}

#[test]
fn given_campaign_event_without_any_amount_when_contracted_then_refused() {
    let terms = CampaignContractTerms {
        base_amount: None,
        commission_value: None,
        ..event_terms()
    };

    let errors = from_event(terms).unwrap_err();

    assert_eq!(
        errors.to_string(),
        "monto_base: is required (or valor_comision)"
    );
}

#[test]
fn given_campaign_event_with_bad_terms_when_contracted_then_every_problem_is_named() {
    let terms = CampaignContractTerms {
        campaign_id: None,
        influencer_id: Some(String::new()),
        base_amount: Some(-5.0),
        currency: Some("pesos".into()),
        contract_type: Some("vitalicio".into()),
        deliverables: Some("d".repeat(2001)),
        ..event_terms()
    };

    let errors = from_event(terms).unwrap_err();

    assert_eq!(
        errors.fields().collect::<Vec<_>>(),
        [
            "campana_id",
            "influencer_id",
            "moneda",
            "monto_base",
            "tipo_contrato",
            "entregables"
        ]
    );
}

#[test]
fn given_campaign_event_with_zero_or_unusable_amounts_when_contracted_then_refused() {
    for (base_amount, commission_value, field) in [
        (Some(0.0), None, "monto_base"),
        (None, Some(0.004), "valor_comision"),
        (Some(f32::NAN), Some(10.0), "monto_base"),
        (None, Some(f32::INFINITY), "valor_comision"),
    ] {
        let terms = CampaignContractTerms {
            base_amount,
            commission_value,
            ..event_terms()
        };
        let errors = from_event(terms).unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), [field]);
    }
}

#[test]
fn given_active_contract_when_completed_or_cancelled_then_terminal() {
    let mut completed = sign(minimal_input()).unwrap();
    let mut cancelled = sign(minimal_input()).unwrap();

    assert_eq!(completed.complete(), Ok(Transition::Changed));
    assert_eq!(cancelled.cancel(), Ok(Transition::Changed));
    assert_eq!(completed.complete(), Ok(Transition::Unchanged));
    assert!(completed.cancel().is_err());
    assert!(cancelled.complete().is_err());
    assert_eq!(cancelled.state(), ContractState::Cancelado);
}

#[test]
fn given_exclusive_contract_when_it_ends_then_it_no_longer_counts_for_exclusivity() {
    let mut contract = sign(NewContract {
        contract_type: Some("exclusivo".into()),
        ..minimal_input()
    })
    .unwrap();
    assert!(contract.is_active_exclusive());

    assert_eq!(contract.complete(), Ok(Transition::Changed));

    assert!(!contract.is_active_exclusive());
}

#[test]
fn same_terms_ignores_identity_state_and_time() {
    let first = sign(minimal_input()).unwrap();
    let mut second = Contract::sign(
        minimal_input(),
        Uuid::now_v7(),
        now() + chrono::TimeDelta::hours(1),
    )
    .unwrap();
    assert_eq!(second.cancel(), Ok(Transition::Changed));
    let different = sign(NewContract {
        total_amount: Some(dec("1500.01")),
        ..minimal_input()
    })
    .unwrap();

    assert!(first.same_terms(&second));
    assert!(!first.same_terms(&different));
}

#[test]
fn given_record_when_restored_then_identical() {
    let contract = sign(minimal_input()).unwrap();

    assert_eq!(Contract::restore(contract.clone().into_record()), contract);
}
