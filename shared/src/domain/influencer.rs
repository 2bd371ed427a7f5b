//! The influencer aggregate (context `alpes`).

use super::period::at_storage_precision;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::categories::Categories;
use super::email::Email;
use super::error::{AtField, DomainError, InvalidValue, ValidationErrors};
use super::phone::Phone;
use super::platform::Platforms;
use super::states::{InfluencerState, Transition, advance};
use super::text::{LongText, PersonName, optional, required};
use super::website::WebsiteUrl;

/// A registration as it arrives (`POST /influencers` body or `EventoCrearInfluencer`),
/// before any check. Every field is optional here so that a missing one becomes a
/// field error in the list instead of an input that cannot be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewInfluencer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub categories: Option<Vec<String>>,
    pub platforms: Option<Vec<String>>,
    pub description: Option<String>,
    pub biography: Option<String>,
    pub website: Option<String>,
    pub phone: Option<String>,
}

/// The command to register an influencer under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterInfluencer {
    pub id: Uuid,
    pub details: NewInfluencer,
}

/// A registered influencer. Only constructed valid, by [`Influencer::register`] or
/// from storage by [`Influencer::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Influencer {
    id: Uuid,
    name: PersonName,
    email: Email,
    categories: Categories,
    platforms: Platforms,
    description: Option<LongText>,
    biography: Option<LongText>,
    website: Option<WebsiteUrl>,
    phone: Option<Phone>,
    state: InfluencerState,
    created_at: DateTime<Utc>,
}

/// Every field of a stored influencer, for the repository to rebuild one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfluencerRecord {
    pub id: Uuid,
    pub name: PersonName,
    pub email: Email,
    pub categories: Categories,
    pub platforms: Platforms,
    pub description: Option<LongText>,
    pub biography: Option<LongText>,
    pub website: Option<WebsiteUrl>,
    pub phone: Option<Phone>,
    pub state: InfluencerState,
    pub created_at: DateTime<Utc>,
}

impl Influencer {
    /// Validates a registration, reporting every bad field at once. The influencer
    /// starts `pendiente`. Email uniqueness needs the store and is checked there.
    pub fn register(
        input: NewInfluencer,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let now = at_storage_precision(now);
        let name = required(input.name.as_deref(), PersonName::parse).at("nombre");
        let email = required(input.email.as_deref(), Email::parse).at("email");
        let categories = match &input.categories {
            Some(raw) => Categories::parse("categorias", raw),
            None => Err(InvalidValue::required()).at("categorias"),
        };
        let platforms = input.platforms.as_deref().map_or_else(
            || Ok(Platforms::empty()),
            |raw| Platforms::parse("plataformas", raw),
        );
        let description = optional(input.description.as_deref(), LongText::parse).at("descripcion");
        let biography = optional(input.biography.as_deref(), LongText::parse).at("biografia");
        let website = optional(input.website.as_deref(), WebsiteUrl::parse).at("sitio_web");
        let phone = optional(input.phone.as_deref(), Phone::parse).at("telefono");

        match (
            name,
            email,
            categories,
            platforms,
            description,
            biography,
            website,
            phone,
        ) {
            (
                Ok(name),
                Ok(email),
                Ok(categories),
                Ok(platforms),
                Ok(description),
                Ok(biography),
                Ok(website),
                Ok(phone),
            ) => Ok(Self {
                id,
                name,
                email,
                categories,
                platforms,
                description,
                biography,
                website,
                phone,
                state: InfluencerState::Pendiente,
                created_at: now,
            }),
            (name, email, categories, platforms, description, biography, website, phone) => {
                Err(ValidationErrors::gather([
                    name.err(),
                    email.err(),
                    categories.err(),
                    platforms.err(),
                    description.err(),
                    biography.err(),
                    website.err(),
                    phone.err(),
                ]))
            }
        }
    }

    /// Rebuilds a stored influencer; its values were validated when first stored.
    pub fn restore(record: InfluencerRecord) -> Self {
        let InfluencerRecord {
            id,
            name,
            email,
            categories,
            platforms,
            description,
            biography,
            website,
            phone,
            state,
            created_at,
        } = record;
        Self {
            id,
            name,
            email,
            categories,
            platforms,
            description,
            biography,
            website,
            phone,
            state,
            created_at,
        }
    }

    pub fn into_record(self) -> InfluencerRecord {
        InfluencerRecord {
            id: self.id,
            name: self.name,
            email: self.email,
            categories: self.categories,
            platforms: self.platforms,
            description: self.description,
            biography: self.biography,
            website: self.website,
            phone: self.phone,
            state: self.state,
            created_at: self.created_at,
        }
    }

    pub fn activate(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, InfluencerState::Activo)
    }

    pub fn deactivate(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, InfluencerState::Inactivo)
    }

    pub fn suspend(&mut self) -> Result<Transition, DomainError> {
        advance(&mut self.state, InfluencerState::Suspendido)
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn name(&self) -> &PersonName {
        &self.name
    }

    pub fn email(&self) -> &Email {
        &self.email
    }

    pub fn categories(&self) -> &Categories {
        &self.categories
    }

    pub fn platforms(&self) -> &Platforms {
        &self.platforms
    }

    pub fn description(&self) -> Option<&LongText> {
        self.description.as_ref()
    }

    pub fn biography(&self) -> Option<&LongText> {
        self.biography.as_ref()
    }

    pub fn website(&self) -> Option<&WebsiteUrl> {
        self.website.as_ref()
    }

    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }

    pub fn state(&self) -> InfluencerState {
        self.state
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

#[cfg(test)]
mod tests;
