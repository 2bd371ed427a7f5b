//! The function runtime: every function binary is `telemetry::init` + `serve(app)`.

pub mod json;
pub mod problem;
mod serve;
pub mod telemetry;

pub use json::{BODY_LIMIT, Json};
pub use problem::ApiError;
pub use serve::{health_routes, serve, shutdown_signal};
