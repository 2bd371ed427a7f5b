//! The function runtime: configuration, telemetry, problem+json errors, the event
//! endpoint and its authentication, and `serve` (Cloud Run port or AWS Lambda).

pub mod config;
pub mod created;
pub mod events;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod push_auth;
pub mod query;
mod runtime;
pub mod schemas;
mod serve;
pub mod telemetry;
pub mod tls;
pub mod write;

pub use config::{BusSettings, ConfigError, FunctionConfig, PushAuthSettings};
pub use events::{EventDelivery, EventError, EventHandler, Handled, events_router};
pub use json::{BODY_LIMIT, CreateRequest, Json};
pub use problem::ApiError;
pub use push_auth::PushAuth;
pub use query::ListQuery;
pub use runtime::Runtime;
pub use serve::{health_routes, listening, serve, shutdown_signal};
pub use write::{Begun, Claimed, Origin, Write};
