//! What more than one of this function's test suites needs.

use alpes_shared::{
    events::{EventMetadata, InfluencerRegistradoPayload, IntegrationEvent},
    store::outbox::{self, OutboxMessage},
    testing::TestApp,
};
use uuid::Uuid;

/// An `InfluencerRegistrado` outbox row for a new influencer id, written without a lease:
/// as a row whose writer stopped before its inline publish, due for the relay at once.
/// The transaction is left open so that a suite can adjust the row before committing it.
pub async fn unpublished_registration(
    app: &TestApp,
    name: &str,
) -> (
    String,
    EventMetadata,
    sqlx::Transaction<'static, sqlx::Postgres>,
) {
    let id = Uuid::new_v4().to_string();
    let event = IntegrationEvent::InfluencerRegistrado(InfluencerRegistradoPayload {
        id_influencer: Some(id.clone()),
        nombre: Some(name.into()),
        email: Some(format!(
            "{}-{id}@example.com",
            name.to_lowercase().replace(' ', ".")
        )),
        categorias: Some(vec!["moda".into()]),
        fecha_registro: Some(1_764_000_000_000),
    });
    let metadata = EventMetadata {
        event_id: Uuid::now_v7(),
        event_type: event.event_type().to_owned(),
        correlation_id: id.clone(),
        causation_id: None,
        occurred_at: chrono::Utc::now(),
        producer: register_influencer::NAME.to_owned(),
    };
    let mut tx = app.runtime.pool.begin().await.unwrap();
    outbox::enqueue(
        &mut tx,
        OutboxMessage::new(&event, &metadata).unwrap(),
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    (id, metadata, tx)
}
