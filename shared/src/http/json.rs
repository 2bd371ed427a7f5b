//! A JSON body extractor with the API's error contract: not JSON is 400, JSON with fields
//! of the wrong type or shape is 422 naming the field, too large is 413.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use super::problem::ApiError;
use crate::domain::{FieldError, ValidationErrors};

/// Bodies larger than this are refused with 413 (SPEC section 3).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Like `axum::Json`, but its rejections are problem+json. The content type is not
/// checked: a JSON body is read as JSON whatever the client labelled it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge { limit: BODY_LIMIT }
                    } else {
                        ApiError::BadRequest(rejection.body_text())
                    }
                })?;
        let value: serde_json::Value = parse(&bytes)?;
        refuse_unstorable_text(&value)?;
        serde_path_to_error::deserialize(value)
            .map(Json)
            .map_err(data_error)
    }
}

/// PostgreSQL stores no NUL character, neither in `text` (22021) nor in `jsonb` (22P05):
/// every string and key of a body holding one is refused here with a 422 naming its
/// path, before anything reaches the database. (JSON cannot carry the other text
/// PostgreSQL refuses, lone surrogates: serde_json rejects them as invalid JSON, 400.)
pub fn refuse_unstorable_text(value: &serde_json::Value) -> Result<(), ApiError> {
    fn walk(value: &serde_json::Value, path: &str, errors: &mut ValidationErrors) {
        const MESSAGE: &str = "must not contain a NUL character (\\u0000)";
        match value {
            serde_json::Value::String(text) if text.contains('\0') => {
                errors.push(FieldError::new(
                    if path.is_empty() { "body" } else { path },
                    MESSAGE,
                ));
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{index}]"), errors);
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if key.contains('\0') {
                        errors.push(FieldError::new(child.replace('\0', "\\u0000"), MESSAGE));
                    } else {
                        walk(item, &child, errors);
                    }
                }
            }
            _ => {}
        }
    }
    let mut errors = ValidationErrors::new();
    walk(value, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A body that is JSON but not the expected shape: a 422 naming the field (for an
/// unknown field, the path serde_path_to_error gives is the field itself).
fn data_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let field = if path == "." { "body".to_owned() } else { path };
    ApiError::validation(&field, strip_position(&error.into_inner().to_string()))
}

/// Reads `bytes` as a `T`, with the same errors as the extractor.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::validation(&field, strip_position(&inner.to_string()))
            }
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })
}

/// serde_json appends "at line 1 column 17" to data errors; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// A create request: the optional client-chosen `id` (a UUID; the idempotency key), the
/// typed input, and the body as received (stored to tell a replay from a conflict).
#[derive(Debug, Clone)]
pub struct CreateRequest<T> {
    pub id: Option<uuid::Uuid>,
    pub input: T,
    pub body: serde_json::Value,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for CreateRequest<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(body) = Json::<serde_json::Value>::from_request(request, state).await?;
        Self::from_body(body)
    }
}

impl<T: DeserializeOwned> CreateRequest<T> {
    /// A create request from a body already read (e.g. the existing system's command
    /// form, with its fields renamed onto the create body's).
    pub fn from_body(body: serde_json::Value) -> Result<Self, ApiError> {
        if !body.is_object() {
            return Err(ApiError::validation("body", "must be a JSON object"));
        }
        refuse_unstorable_text(&body)?;
        let id = match body.get("id") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(raw)) => Some(
                uuid::Uuid::parse_str(raw.trim())
                    .map_err(|_| ApiError::validation("id", "must be a UUID"))?,
            ),
            Some(_) => return Err(ApiError::validation("id", "must be a UUID string")),
        };
        // The input types refuse unknown fields (`deny_unknown_fields`): nothing the API
        // does not know is ever stored, not even in the body kept for replays.
        let mut fields = body.clone();
        if let Some(object) = fields.as_object_mut() {
            object.remove("id");
        }
        let input = serde_path_to_error::deserialize(fields).map_err(data_error)?;
        Ok(Self { id, input, body })
    }
}
