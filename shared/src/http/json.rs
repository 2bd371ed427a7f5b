//! A JSON body extractor with the API's error contract: not JSON is 400, JSON with fields
//! of the wrong type or shape is 422 naming the field, too large is 413.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use super::problem::ApiError;

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
        parse(&bytes).map(Json)
    }
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
        if !body.is_object() {
            return Err(ApiError::validation("body", "must be a JSON object"));
        }
        let id = match body.get("id") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(raw)) => Some(
                uuid::Uuid::parse_str(raw.trim())
                    .map_err(|_| ApiError::validation("id", "must be a UUID"))?,
            ),
            Some(_) => return Err(ApiError::validation("id", "must be a UUID string")),
        };
        let input = serde_path_to_error::deserialize(&body).map_err(|error| {
            let path = error.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::validation(&field, strip_position(&error.into_inner().to_string()))
        })?;
        Ok(Self { id, input, body })
    }
}
