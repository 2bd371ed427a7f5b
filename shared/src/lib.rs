//! What every Alpes Partners function has in common.
//!
//! - [`config`]: the configuration reader (environment variables, `envy`).
//! - [`domain`]: aggregates, value objects and rules. Pure code, no I/O.
//! - [`events`]: the integration events of the wire contract (Avro on Pulsar / Pub/Sub).
//! - [`bus`]: publishing events (Pulsar, Pub/Sub) and the outbox relay.
//! - [`store`]: PostgreSQL repositories, transactional outbox, inbox.
//! - [`http`]: the function runtime (serve on `$PORT`, graceful shutdown, health).
//! - [`trace_context`]: W3C trace context across HTTP, the outbox and the brokers.
//! - [`views`]: JSON bodies served by more than one function.
//! - `testing` (feature `testing`): support for the functions' test suites.

pub mod bus;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace_context;
pub mod views;
