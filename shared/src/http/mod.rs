//! The function runtime: every function binary is `telemetry::init` + `serve(app)`.

mod serve;
pub mod telemetry;

pub use serve::{health_routes, serve, shutdown_signal};
