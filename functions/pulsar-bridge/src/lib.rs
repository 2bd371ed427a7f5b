//! The always-on push bridge: turns Pulsar subscriptions into HTTP pushes in the Google
//! Pub/Sub push format, so the stateless functions are triggered by Pulsar exactly as by a
//! Pub/Sub push subscription. The design (retries, dead letters, durable attempt counts,
//! configuration) is described in `docs/BRIDGE.md`; in short:
//!
//! - **Routes** ([`config`]): one subscription per (topic, function), from the default table
//!   of SPEC section 5 (`*_URL` variables) or `BRIDGE_ROUTES` / `BRIDGE_ROUTES_FILE`.
//! - **Delivery**: each message is `POST`ed to the route's URL ([`message::Inbound::push_body`],
//!   [`pusher`]) with a bearer token ([`auth`]), at most `concurrency` at once per route, and
//!   acknowledged only after a 2xx.
//! - **Retries, unordered routes**: a failed message is re-published to
//!   `<topic>-<subscription>-RETRY` with its attempt count, last error and original identity
//!   in properties and a broker-side delivery delay (the backoff, or `Retry-After`), then
//!   acknowledged; the route consumes its retry topic too. The count travels with the
//!   message, so it survives bridge and broker restarts.
//! - **Retries, ordered routes** (Key_Shared, one in-flight message per key): the message is
//!   retried in place while its key waits; each failed attempt is recorded in the
//!   `<topic>-<subscription>-ATTEMPTS` ledger topic ([`ledger`]), which outlives restarts.
//! - **Dead letters**: after `max_attempts` failed attempts, or `retry_budget` after the
//!   first failure, or at once on a 400, the message goes to `<topic>-<subscription>-DLQ`
//!   with its properties plus its history (`bridge_attempts`, `bridge_last_error`, first
//!   and last failure, original identity), then is acknowledged. The durable subscription
//!   `dlq` keeps them; [`dlq`] (`pulsar-bridge dlq list|replay|drop`) lists, replays (to
//!   the route's retry topic: that route only) or drops them.
//! - **Operations**: `/health`, `/ready`, `/metrics` ([`metrics`]); SIGTERM drains in-flight
//!   pushes for `BRIDGE_SHUTDOWN_GRACE_MS`.
//!
//! [`start`] runs a bridge in-process (tests drive it with a cancellation token); the
//! binary is [`run`] on the environment's configuration.

mod app;
pub mod auth;
pub mod config;
mod delivery;
pub mod dlq;
pub mod ledger;
pub mod message;
pub mod metrics;
pub mod pusher;

pub use app::{BridgeError, RunningBridge, run, start};
pub use delivery::DEAD_LETTER_SUBSCRIPTION;
pub use tokio_util::sync::CancellationToken;
