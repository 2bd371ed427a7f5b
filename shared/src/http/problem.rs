//! Every error a function answers, as `application/problem+json` (RFC 9457), in one place.
//! A 5xx never carries internals: the cause is logged, the client gets a generic detail.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    domain::{DomainError, FieldError, ValidationErrors},
    store::StoreError,
};

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (or not readable).
    #[error("{0}")]
    BadRequest(String),
    /// A query or path parameter cannot be read (e.g. it holds a NUL character).
    #[error("parameter {name}: {message}")]
    BadParameter { name: String, message: String },
    /// The JSON is well formed but its fields are wrong.
    #[error("invalid fields: {0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    NotFound(String),
    /// A business rule or an idempotency key says no.
    #[error("{0}")]
    Conflict(String),
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Unauthorized(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (database, broker) is down: retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// An error, as `application/problem+json` (RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Problem<'a> {
    /// What kind of problem: a path under `/problems/`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation")]
    kind: &'a str,
    /// The kind's short, fixed summary.
    #[schema(example = "Some fields are invalid")]
    title: &'a str,
    /// The HTTP status code.
    #[schema(example = 422)]
    status: u16,
    /// What happened to this request (generic for a 5xx: no internals).
    detail: String,
    /// For a 422: every refused field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<super::schemas::ProblemFieldError>>)]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadParameter { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldError::new(field, message).into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (kind, title) = match &self {
            Self::BadRequest(_) => (
                "/problems/bad-request",
                "The request body is not valid JSON",
            ),
            Self::BadParameter { .. } => (
                "/problems/bad-parameter",
                "A query or path parameter is invalid",
            ),
            Self::Validation(_) => ("/problems/validation", "Some fields are invalid"),
            Self::NotFound(_) => ("/problems/not-found", "Not found"),
            Self::Conflict(_) => ("/problems/conflict", "Conflict"),
            Self::PayloadTooLarge { .. } => {
                ("/problems/payload-too-large", "Request body too large")
            }
            Self::Unauthorized(_) => ("/problems/unauthorized", "Missing or invalid credentials"),
            Self::MethodNotAllowed => ("/problems/method-not-allowed", "Method not allowed"),
            Self::Unavailable(_) => ("/problems/unavailable", "Service temporarily unavailable"),
            Self::Internal(_) => ("/problems/internal", "Internal error"),
        };
        let detail = match &self {
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "answering 503");
                "A dependency is unavailable; retry later.".to_owned()
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "answering 500");
                "The server failed to handle the request.".to_owned()
            }
            other => other.to_string(),
        };
        let errors = match &self {
            Self::Validation(errors) => Some(errors.iter().as_slice()),
            _ => None,
        };
        let body = serde_json::to_vec(&Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
            errors,
        })
        .unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        Self::Conflict(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(constraint) => Self::Conflict(constraint.to_string()),
            StoreError::Unavailable(cause) => Self::Unavailable(cause.to_string()),
            StoreError::InvalidData(cause) => {
                // The edge refuses what it can name (NUL in any string); this is the
                // backstop for whatever else the database refuses as data.
                tracing::warn!(%cause, "the database refused a value of the request");
                Self::validation("body", "holds a value the database cannot store")
            }
            other => Self::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}
