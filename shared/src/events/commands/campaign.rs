//! Campaign commands.

use super::InvalidPayload;
use crate::{
    domain::{
        CampaignInfluencer, Categories, Email, ExternalId, FieldError, InvalidValue, PersonName,
        ValidationErrors, WelcomeInfluencer,
    },
    events::InfluencerRegistradoPayload,
};

/// `EventoInfluencerRegistrado`: the newcomer's welcome campaign. Every unusable field is
/// named; missing `categorias` is an empty target (the campaign targets everyone), not a
/// failure.
impl TryFrom<&InfluencerRegistradoPayload> for WelcomeInfluencer {
    type Error = InvalidPayload;

    fn try_from(registered: &InfluencerRegistradoPayload) -> Result<Self, Self::Error> {
        let mut errors = ValidationErrors::new();
        let id = required(
            &mut errors,
            "id_influencer",
            registered.id_influencer.as_deref(),
            ExternalId::parse,
        );
        let name = required(
            &mut errors,
            "nombre",
            registered.nombre.as_deref(),
            PersonName::parse,
        );
        let email = required(
            &mut errors,
            "email",
            registered.email.as_deref(),
            Email::parse,
        );
        let categories = Categories::parse_allowing_empty(
            "categorias",
            registered.categorias.as_deref().unwrap_or_default(),
        )
        .map_err(|refused| refused.into_iter().for_each(|error| errors.push(error)))
        .ok();
        match (id, name, email, categories) {
            (Some(id), Some(name), Some(email), Some(categories)) => Ok(Self {
                influencer: CampaignInfluencer { id, name, email },
                categories,
            }),
            _ => Err(InvalidPayload(errors.to_string())),
        }
    }
}

/// A field the command cannot do without, parsed; a missing or bad one is listed in
/// `errors`.
fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Option<T> {
    let Some(raw) = raw else {
        errors.push(FieldError::new(field, "is required"));
        return None;
    };
    parse(raw)
        .map_err(|error| errors.push(error.at(field)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> InfluencerRegistradoPayload {
        InfluencerRegistradoPayload {
            id_influencer: Some("inf-1".into()),
            nombre: Some("Ana".into()),
            email: Some("ana@example.com".into()),
            ..InfluencerRegistradoPayload::default()
        }
    }

    #[test]
    fn a_registration_without_categories_welcomes_to_everything() {
        let welcome = WelcomeInfluencer::try_from(&registered()).unwrap();
        assert_eq!(welcome.influencer.id.as_str(), "inf-1");
        assert_eq!(welcome.categories, Categories::empty());
    }

    #[test]
    fn every_unusable_field_is_named() {
        let registered = InfluencerRegistradoPayload {
            nombre: Some(" ".into()),
            email: None,
            ..registered()
        };
        let refused = WelcomeInfluencer::try_from(&registered).unwrap_err();
        assert!(refused.0.contains("nombre"), "{refused}");
        assert!(refused.0.contains("email"), "{refused}");
        assert!(!refused.0.contains("id_influencer"), "{refused}");
    }
}
