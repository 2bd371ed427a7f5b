use std::str::FromStr;

use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 20, 10, 0, 0).unwrap()
}

fn dec(raw: &str) -> Decimal {
    Decimal::from_str(raw).unwrap()
}

fn minimal_input() -> NewCampaign {
    NewCampaign {
        name: Some("Lanzamiento otoño".into()),
        description: Some("Colección nueva".into()),
        commission_value: Some(dec("19.99")),
        ..NewCampaign::default()
    }
}

fn create(input: NewCampaign) -> Result<Campaign, ValidationErrors> {
    Campaign::create(input, Uuid::nil(), now())
}

fn refused_fields(input: NewCampaign) -> Vec<String> {
    create(input)
        .unwrap_err()
        .into_iter()
        .map(|error| error.field)
        .collect()
}

fn message_for(input: NewCampaign, field: &str) -> String {
    create(input)
        .unwrap_err()
        .into_iter()
        .find(|error| error.field == field)
        .map(|error| error.message)
        .unwrap_or_else(|| panic!("no error for {field}"))
}

#[test]
fn given_minimal_input_when_created_then_spec_defaults_apply() {
    let campaign = create(minimal_input()).unwrap();

    assert_eq!(campaign.name().as_str(), "Lanzamiento otoño");
    assert_eq!(campaign.description().as_str(), "Colección nueva");
    assert_eq!(campaign.commission_type(), CommissionType::Cpa);
    assert_eq!(campaign.commission().amount(), dec("19.99"));
    assert_eq!(campaign.currency(), Currency::USD);
    assert!(campaign.target_categories().is_empty());
    assert_eq!(campaign.start_date(), now());
    assert_eq!(campaign.end_date(), None);
    assert_eq!(campaign.influencer(), None);
    assert_eq!(campaign.contract_type(), ContractType::Puntual);
    assert_eq!(campaign.base_amount(), campaign.commission());
    assert_eq!(campaign.deliverables(), None);
    assert!(!campaign.is_welcome());
    assert_eq!(campaign.state(), CampaignState::Activa);
    assert_eq!(campaign.created_at(), now());
}

#[test]
fn given_every_field_when_created_then_all_are_kept() {
    let input = NewCampaign {
        commission_type: Some("CPL".into()),
        currency: Some("eur".into()),
        target_categories: Some(vec!["Moda".into(), "moda".into(), "viajes".into()]),
        start_date: Some("2025-10-01T00:00:00Z".into()),
        end_date: Some("2025-12-31T23:59:59-05:00".into()),
        influencer_id: Some("inf-12345".into()),
        influencer_name: Some("Ana Gómez".into()),
        influencer_email: Some("ANA@example.com".into()),
        contract_type: Some("exclusivo".into()),
        base_amount: Some(dec("500")),
        deliverables: Some("3 publicaciones".into()),
        ..minimal_input()
    };

    let campaign = create(input).unwrap();

    assert_eq!(campaign.commission_type(), CommissionType::Cpl);
    assert_eq!(campaign.currency().as_str(), "EUR");
    assert_eq!(campaign.target_categories().as_slice(), ["moda", "viajes"]);
    assert_eq!(
        campaign.start_date(),
        Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap()
    );
    assert_eq!(
        campaign.end_date(),
        Some(Utc.with_ymd_and_hms(2026, 1, 1, 4, 59, 59).unwrap())
    );
    let influencer = campaign.influencer().unwrap();
    assert_eq!(influencer.id.as_str(), "inf-12345");
    assert_eq!(influencer.name.as_str(), "Ana Gómez");
    assert_eq!(influencer.email.as_str(), "ana@example.com");
    assert_eq!(campaign.contract_type(), ContractType::Exclusivo);
    assert_eq!(campaign.base_amount().amount().to_string(), "500.00");
    assert_eq!(campaign.base_amount().currency(), campaign.currency());
    assert_eq!(campaign.deliverables().unwrap().as_str(), "3 publicaciones");
}

#[test]
fn given_empty_input_when_created_then_every_required_field_is_listed() {
    assert_eq!(
        refused_fields(NewCampaign::default()),
        ["nombre", "descripcion", "valor_comision"]
    );
}

#[test]
fn given_blank_description_when_created_then_refused() {
    let input = NewCampaign {
        description: Some("  ".into()),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["descripcion"]);
}

#[test]
fn given_non_positive_commission_when_created_then_refused() {
    for amount in ["0", "-10", "0.00"] {
        let input = NewCampaign {
            commission_value: Some(dec(amount)),
            ..minimal_input()
        };
        assert_eq!(
            message_for(input, "valor_comision"),
            "must be greater than 0"
        );
    }
}

#[test]
fn given_commission_with_three_decimals_when_created_then_refused() {
    let input = NewCampaign {
        commission_value: Some(dec("19.999")),
        ..minimal_input()
    };

    assert_eq!(
        message_for(input, "valor_comision"),
        "must have at most 2 decimal places"
    );
}

#[test]
fn given_non_positive_base_amount_when_created_then_refused() {
    let input = NewCampaign {
        base_amount: Some(dec("0")),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["monto_base"]);
}

#[test]
fn given_bad_currency_and_bad_amounts_when_created_then_all_are_reported() {
    let input = NewCampaign {
        currency: Some("dollars".into()),
        commission_value: Some(dec("-1")),
        base_amount: Some(dec("1.001")),
        ..minimal_input()
    };

    assert_eq!(
        refused_fields(input),
        ["moneda", "valor_comision", "monto_base"]
    );
}

#[test]
fn given_unknown_kinds_when_created_then_refused_naming_the_value() {
    let input = NewCampaign {
        commission_type: Some("cpm".into()),
        contract_type: Some("mensual".into()),
        ..minimal_input()
    };

    assert_eq!(
        refused_fields(input.clone()),
        ["tipo_comision", "tipo_contrato"]
    );
    assert!(message_for(input, "tipo_contrato").contains("'mensual'"));
}

#[test]
fn given_blank_kinds_and_currency_when_created_then_defaults_apply() {
    let input = NewCampaign {
        commission_type: Some(String::new()),
        contract_type: Some(" ".into()),
        currency: Some(String::new()),
        ..minimal_input()
    };

    let campaign = create(input).unwrap();

    assert_eq!(campaign.commission_type(), CommissionType::Cpa);
    assert_eq!(campaign.contract_type(), ContractType::Puntual);
    assert_eq!(campaign.currency(), Currency::USD);
}

#[test]
fn given_malformed_dates_when_created_then_each_is_refused() {
    let input = NewCampaign {
        start_date: Some("2025-10-01".into()),
        end_date: Some("pronto".into()),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["fecha_inicio", "fecha_fin"]);
}

#[test]
fn given_end_not_after_start_when_created_then_refused() {
    for end in ["2025-10-01T00:00:00Z", "2025-09-30T00:00:00Z"] {
        let input = NewCampaign {
            start_date: Some("2025-10-01T00:00:00Z".into()),
            end_date: Some(end.into()),
            ..minimal_input()
        };
        assert_eq!(
            message_for(input, "fecha_fin"),
            "must be after fecha_inicio"
        );
    }
}

#[test]
fn given_end_before_now_and_no_start_when_created_then_refused_against_the_default() {
    let input = NewCampaign {
        end_date: Some("2025-09-20T09:59:59Z".into()),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["fecha_fin"]);
}

#[test]
fn given_end_and_bad_start_when_created_then_only_the_start_is_reported() {
    let input = NewCampaign {
        start_date: Some("ayer".into()),
        end_date: Some("2020-01-01T00:00:00Z".into()),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["fecha_inicio"]);
}

#[test]
fn given_only_some_influencer_fields_when_created_then_missing_ones_are_named() {
    let input = NewCampaign {
        influencer_id: Some("inf-1".into()),
        ..minimal_input()
    };

    assert_eq!(
        refused_fields(input),
        ["influencer_nombre", "influencer_email"]
    );

    let input = NewCampaign {
        influencer_email: Some("ana@example.com".into()),
        ..minimal_input()
    };

    assert_eq!(
        refused_fields(input),
        ["influencer_id", "influencer_nombre"]
    );
}

#[test]
fn given_all_influencer_fields_with_a_bad_email_when_created_then_refused() {
    let input = NewCampaign {
        influencer_id: Some("inf-1".into()),
        influencer_name: Some("Ana".into()),
        influencer_email: Some("ana-at-example".into()),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["influencer_email"]);
}

#[test]
fn given_blank_influencer_fields_when_created_then_no_influencer() {
    let input = NewCampaign {
        influencer_id: Some(String::new()),
        influencer_name: Some(" ".into()),
        influencer_email: None,
        ..minimal_input()
    };

    assert_eq!(create(input).unwrap().influencer(), None);
}

#[test]
fn given_bad_target_categories_when_created_then_named_by_index() {
    let input = NewCampaign {
        target_categories: Some(vec!["moda".into(), String::new()]),
        ..minimal_input()
    };

    assert_eq!(refused_fields(input), ["categorias_objetivo[1]"]);
}

#[test]
fn given_overlong_texts_when_created_then_refused() {
    let input = NewCampaign {
        name: Some("n".repeat(301)),
        description: Some("d".repeat(2001)),
        deliverables: Some("e".repeat(2001)),
        ..minimal_input()
    };

    assert_eq!(
        refused_fields(input),
        ["nombre", "descripcion", "entregables"]
    );
}

#[test]
fn given_registered_influencer_when_welcomed_then_spec_welcome_campaign() {
    let categories = Categories::parse("categorias", &["moda", "viajes"]).unwrap();
    let influencer_id = ExternalId::parse("0199a7a0-0000-7000-8000-000000000001").unwrap();
    let id = Uuid::now_v7();

    let campaign = Campaign::welcome_for(
        influencer_id.clone(),
        PersonName::parse("Ana Gómez").unwrap(),
        Email::parse("ana@example.com").unwrap(),
        categories.clone(),
        id,
        now(),
    );

    assert_eq!(campaign.id(), id);
    assert_eq!(
        campaign.name().as_str(),
        "Campaña de bienvenida para Ana Gómez"
    );
    assert!(campaign.description().as_str().contains("Ana Gómez"));
    assert_eq!(campaign.commission_type(), CommissionType::Cpa);
    assert_eq!(campaign.commission().amount().to_string(), "100.00");
    assert_eq!(campaign.currency(), Currency::USD);
    assert_eq!(campaign.base_amount().amount().to_string(), "100.00");
    assert_eq!(campaign.target_categories(), &categories);
    assert_eq!(campaign.start_date(), now());
    assert_eq!(campaign.end_date(), Some(now() + TimeDelta::days(90)));
    assert_eq!(campaign.contract_type(), ContractType::Puntual);
    assert_eq!(
        campaign.influencer(),
        Some(&CampaignInfluencer {
            id: influencer_id,
            name: PersonName::parse("Ana Gómez").unwrap(),
            email: Email::parse("ana@example.com").unwrap(),
        })
    );
    assert!(campaign.is_welcome());
    assert_eq!(campaign.state(), CampaignState::Activa);
    assert_eq!(campaign.created_at(), now());
}

#[test]
fn given_longest_possible_name_when_welcomed_then_still_valid() {
    let campaign = Campaign::welcome_for(
        ExternalId::parse("inf-1").unwrap(),
        PersonName::parse(&"ñ".repeat(200)).unwrap(),
        Email::parse("a@b.co").unwrap(),
        Categories::parse("categorias", &["moda"]).unwrap(),
        Uuid::nil(),
        now(),
    );

    assert_eq!(campaign.name().as_str().chars().count(), 227);
}

#[test]
fn given_active_campaign_when_paused_resumed_and_finished_then_follows_the_table() {
    let mut campaign = create(minimal_input()).unwrap();

    assert_eq!(campaign.pause(), Ok(Transition::Changed));
    assert_eq!(campaign.pause(), Ok(Transition::Unchanged));
    assert_eq!(campaign.activate(), Ok(Transition::Changed));
    assert_eq!(campaign.finish(), Ok(Transition::Changed));
    assert_eq!(campaign.state(), CampaignState::Finalizada);
    assert!(campaign.activate().is_err());
    assert!(campaign.cancel().is_err());
}

#[test]
fn given_cancelled_campaign_when_resumed_then_refused() {
    let mut campaign = create(minimal_input()).unwrap();
    assert_eq!(campaign.cancel(), Ok(Transition::Changed));

    let error = campaign.activate().unwrap_err();

    assert_eq!(
        error.to_string(),
        "campaign cannot go from cancelada to activa"
    );
}

#[test]
fn given_record_when_restored_then_identical() {
    let campaign = create(minimal_input()).unwrap();

    assert_eq!(Campaign::restore(campaign.clone().into_record()), campaign);
}
