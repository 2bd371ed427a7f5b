//! Influencer commands.

use super::{InvalidPayload, uuid};
use crate::{
    domain::{NewInfluencer, RegisterInfluencer},
    events::CrearInfluencerPayload,
};

/// `EventoCrearInfluencer`: a registration under the sender's id.
impl TryFrom<&CrearInfluencerPayload> for RegisterInfluencer {
    type Error = InvalidPayload;

    fn try_from(command: &CrearInfluencerPayload) -> Result<Self, Self::Error> {
        Ok(Self {
            id: uuid("id", command.id.as_deref())?,
            details: NewInfluencer {
                name: command.nombre.clone(),
                email: command.email.clone(),
                categories: command.categorias.clone(),
                // The existing tools' command has no platforms.
                platforms: None,
                description: command.descripcion.clone(),
                biography: command.biografia.clone(),
                website: command.sitio_web.clone(),
                phone: command.telefono.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_command_needs_a_uuid() {
        let mut command = CrearInfluencerPayload {
            id: Some(" 0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a87 ".into()),
            nombre: Some("Ana".into()),
            ..CrearInfluencerPayload::default()
        };
        let registration = RegisterInfluencer::try_from(&command).unwrap();
        assert_eq!(
            registration.id.to_string(),
            "0195e4c4-6f1e-7c3a-9a4b-3f2d1c0b9a87"
        );
        assert_eq!(registration.details.name.as_deref(), Some("Ana"));
        for id in [None, Some("inf-1".to_owned())] {
            command.id = id;
            let refused = RegisterInfluencer::try_from(&command).unwrap_err();
            assert!(refused.0.starts_with("id "), "{refused}");
        }
    }
}
