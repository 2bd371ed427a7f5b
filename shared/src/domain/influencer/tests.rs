use chrono::TimeZone;

use super::*;
use crate::domain::platform::Platform;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 20, 10, 0, 0).unwrap()
}

fn valid_input() -> NewInfluencer {
    NewInfluencer {
        name: Some("  Ana Gómez ".into()),
        email: Some("Ana@Example.com".into()),
        categories: Some(vec!["Moda".into(), "viajes".into(), "moda".into()]),
        platforms: Some(vec!["instagram".into(), "TikTok".into()]),
        description: Some("Creadora de contenido".into()),
        biography: Some("Vive en Bogotá".into()),
        website: Some("https://ana.example.com".into()),
        phone: Some("+57 300 123 4567".into()),
    }
}

fn register(input: NewInfluencer) -> Result<Influencer, ValidationErrors> {
    Influencer::register(input, Uuid::nil(), now())
}

fn refused_fields(input: NewInfluencer) -> Vec<String> {
    register(input)
        .unwrap_err()
        .into_iter()
        .map(|error| error.field)
        .collect()
}

#[test]
fn given_valid_input_when_registered_then_pendiente_with_normalised_values() {
    let id = Uuid::now_v7();

    let influencer = Influencer::register(valid_input(), id, now()).unwrap();

    assert_eq!(influencer.id(), id);
    assert_eq!(influencer.name().as_str(), "Ana Gómez");
    assert_eq!(influencer.email().as_str(), "ana@example.com");
    assert_eq!(influencer.categories().as_slice(), ["moda", "viajes"]);
    assert!(influencer.platforms().contains(Platform::Tiktok));
    assert_eq!(
        influencer.description().unwrap().as_str(),
        "Creadora de contenido"
    );
    assert_eq!(influencer.biography().unwrap().as_str(), "Vive en Bogotá");
    assert_eq!(
        influencer.website().unwrap().as_str(),
        "https://ana.example.com"
    );
    assert_eq!(influencer.phone().unwrap().as_str(), "+57 300 123 4567");
    assert_eq!(influencer.state(), InfluencerState::Pendiente);
    assert_eq!(influencer.created_at(), now());
}

#[test]
fn given_only_required_fields_when_registered_then_optionals_are_empty() {
    let input = NewInfluencer {
        name: Some("Ana".into()),
        email: Some("ana@example.com".into()),
        categories: Some(vec!["moda".into()]),
        ..NewInfluencer::default()
    };

    let influencer = register(input).unwrap();

    assert!(influencer.platforms().is_empty());
    assert!(influencer.description().is_none());
    assert!(influencer.biography().is_none());
    assert!(influencer.website().is_none());
    assert!(influencer.phone().is_none());
}

#[test]
fn given_blank_optional_fields_when_registered_then_treated_as_absent() {
    let input = NewInfluencer {
        description: Some("  ".into()),
        website: Some(String::new()),
        phone: Some(" ".into()),
        ..valid_input()
    };

    let influencer = register(input).unwrap();

    assert!(influencer.description().is_none());
    assert!(influencer.website().is_none());
    assert!(influencer.phone().is_none());
}

#[test]
fn given_empty_input_when_registered_then_every_required_field_is_listed() {
    assert_eq!(
        refused_fields(NewInfluencer::default()),
        ["nombre", "email", "categorias"]
    );
}

#[test]
fn given_every_field_invalid_when_registered_then_all_errors_are_collected() {
    let input = NewInfluencer {
        name: Some("   ".into()),
        email: Some("not-an-email".into()),
        categories: Some(vec!["moda".into(), " ".into()]),
        platforms: Some(vec!["myspace".into()]),
        description: Some("x".repeat(2001)),
        biography: Some("y".repeat(2001)),
        website: Some("ftp://example.com".into()),
        phone: Some("123".into()),
    };

    assert_eq!(
        refused_fields(input),
        [
            "nombre",
            "email",
            "categorias[1]",
            "plataformas[0]",
            "descripcion",
            "biografia",
            "sitio_web",
            "telefono"
        ]
    );
}

#[test]
fn given_name_of_201_characters_when_registered_then_refused() {
    let input = NewInfluencer {
        name: Some("a".repeat(201)),
        ..valid_input()
    };

    assert_eq!(refused_fields(input), ["nombre"]);
}

#[test]
fn given_no_categories_when_registered_then_refused() {
    let input = NewInfluencer {
        categories: Some(vec![]),
        ..valid_input()
    };

    assert_eq!(refused_fields(input), ["categorias"]);
}

#[test]
fn given_eleven_categories_when_registered_then_refused() {
    let input = NewInfluencer {
        categories: Some((0..11).map(|i| format!("c{i}")).collect()),
        ..valid_input()
    };

    assert_eq!(refused_fields(input), ["categorias"]);
}

#[test]
fn given_pending_influencer_when_activated_then_activo() {
    let mut influencer = register(valid_input()).unwrap();

    assert_eq!(influencer.activate(), Ok(Transition::Changed));
    assert_eq!(influencer.state(), InfluencerState::Activo);
}

#[test]
fn given_pending_influencer_when_suspended_or_deactivated_then_moves() {
    let mut suspended = register(valid_input()).unwrap();
    let mut deactivated = register(valid_input()).unwrap();

    assert_eq!(suspended.suspend(), Ok(Transition::Changed));
    assert_eq!(deactivated.deactivate(), Ok(Transition::Changed));
    assert_eq!(suspended.state(), InfluencerState::Suspendido);
    assert_eq!(deactivated.state(), InfluencerState::Inactivo);
}

#[test]
fn given_active_influencer_when_activated_again_then_unchanged() {
    let mut influencer = register(valid_input()).unwrap();
    assert_eq!(influencer.activate(), Ok(Transition::Changed));

    assert_eq!(influencer.activate(), Ok(Transition::Unchanged));
}

#[test]
fn given_suspended_influencer_when_reactivated_then_activo() {
    let mut influencer = register(valid_input()).unwrap();
    assert_eq!(influencer.suspend(), Ok(Transition::Changed));

    assert_eq!(influencer.activate(), Ok(Transition::Changed));
}

#[test]
fn given_inactive_influencer_when_suspended_then_refused() {
    let mut influencer = register(valid_input()).unwrap();
    assert_eq!(influencer.deactivate(), Ok(Transition::Changed));

    let error = influencer.suspend().unwrap_err();

    assert_eq!(
        error.to_string(),
        "influencer cannot go from inactivo to suspendido"
    );
    assert_eq!(influencer.state(), InfluencerState::Inactivo);
}

#[test]
fn given_record_when_restored_then_identical() {
    let influencer = register(valid_input()).unwrap();

    let restored = Influencer::restore(influencer.clone().into_record());

    assert_eq!(restored, influencer);
}
