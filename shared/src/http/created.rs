//! The answers of a create (SPEC section 3): 201 with `Location` for a new resource, 200
//! with the stored one for a replay (the same `id` and body; see `store::idempotency`).

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

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
