//! Idempotent creates (SPEC section 3): a create may carry its own `id`; the same `id`
//! with the same body answers 200 with the stored resource, with another body 409.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::problem::ApiError;

/// 201 with `Location` and the new resource.
pub fn created(location: String, body: impl Serialize) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// 200 with the resource an identical earlier create stored.
pub fn replayed(body: impl Serialize) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// Tells a replay from a conflict once a create hit an existing `id`: `stored` is the
/// resource with that id and the request body that created it (none when an event did).
pub fn check_replay<T>(
    what: &str,
    id: Uuid,
    stored: Option<(T, Option<Value>)>,
    body: &Value,
) -> Result<T, ApiError> {
    match stored {
        Some((resource, Some(request))) if request == *body => Ok(resource),
        Some(_) => Err(ApiError::Conflict(format!(
            "{what} {id} was created with a different body"
        ))),
        None => Err(ApiError::Conflict(format!("{what} {id} conflicts"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_same_body_is_a_replay_anything_else_a_conflict() {
        let id = Uuid::now_v7();
        let body = json!({"nombre": "Ana", "categorias": ["moda"]});
        assert_eq!(
            check_replay(
                "influencer",
                id,
                Some(("stored", Some(body.clone()))),
                &body
            )
            .unwrap(),
            "stored"
        );
        for stored in [
            Some(("stored", Some(json!({"nombre": "Otra"})))),
            Some(("stored", None)),
            None,
        ] {
            let error = check_replay("influencer", id, stored, &body).unwrap_err();
            assert_eq!(error.status(), StatusCode::CONFLICT);
        }
    }
}
