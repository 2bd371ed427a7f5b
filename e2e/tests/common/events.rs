//! Events: building the contract's events, publishing them as another producer would, and
//! reading a topic of the run.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use alpes_shared::{
    bus::{Publisher, PulsarBus, PulsarSettings},
    events::{EventMetadata, IntegrationEvent, Topic},
    store::outbox::OutboxMessage,
};
use futures::StreamExt;
use pulsar::{Consumer, ConsumerOptions, Pulsar, TokioExecutor, consumer::InitialPosition};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Env, FLOW_TIMEOUT, Influencer};

/// A payload from its JSON fields (every contract field is optional).
pub fn payload<P: serde::de::DeserializeOwned>(fields: Value) -> P {
    serde_json::from_value(fields).expect("the payload's fields")
}

/// `CampanaCreada` of campaign `id`, for influencer `influencer` (`None`: no contract step).
pub fn campaign_created(id: &str, influencer: Option<&Influencer>) -> IntegrationEvent {
    IntegrationEvent::CampanaCreada(payload(json!({
        "campana_id": id,
        "nombre": format!("Campaña {id}"),
        "descripcion": "Publicada por la prueba",
        "tipo_comision": "cpa",
        "valor_comision": 300.0,
        "moneda": "EUR",
        "categorias_objetivo": ["moda"],
        "fecha_inicio": "2026-12-01T00:00:00",
        "fecha_fin": "2026-12-31T23:59:59",
        "influencer_id": influencer.map(|influencer| influencer.id.clone()),
        "influencer_nombre": influencer.map(|influencer| influencer.nombre.clone()),
        "influencer_email": influencer.map(|influencer| influencer.email.clone()),
        "monto_base": 300.0,
        "entregables": "2 publicaciones",
        "tipo_contrato": "exclusivo",
        "fecha_creacion": "2026-11-27 10:00:00.123456",
    })))
}

/// `ContratoCreado` of contract `contract_id` in campaign `campaign_id`.
pub fn contract_created(
    contract_id: &str,
    influencer_id: &str,
    campaign_id: &str,
) -> IntegrationEvent {
    IntegrationEvent::ContratoCreado(payload(json!({
        "id_contrato": contract_id,
        "id_influencer": influencer_id,
        "id_campana": campaign_id,
        "monto_total": 300.0,
        "moneda": "EUR",
        "tipo_contrato": "exclusivo",
        "fecha_creacion": "2026-11-27 10:00:01.000000",
    })))
}

/// `ContratoError` (a rejected contract step) for campaign `campaign_id`.
pub fn contract_rejected(influencer_id: &str, campaign_id: &str) -> IntegrationEvent {
    IntegrationEvent::ContratoError(payload(json!({
        "id_contrato": Uuid::new_v4().to_string(),
        "id_influencer": influencer_id,
        "id_campana": campaign_id,
        "monto_total": 300.0,
        "moneda": "EUR",
        "tipo_contrato": "exclusivo",
        "fecha_creacion": "2026-11-27 10:00:01.000000",
        "error": "ContratoRechazado",
        "error_detalle": "el influencer ya tiene un contrato exclusivo activo",
    })))
}

impl Env {
    /// A publisher on the run's namespace.
    pub fn pulsar_bus(&self) -> PulsarBus {
        PulsarBus::new(PulsarSettings {
            url: self.pulsar_url.clone(),
            token: None,
            operation_timeout: Duration::from_secs(15),
            namespace: self.namespace.clone(),
        })
    }

    /// Publishes `event` as a producer of the saga would: a new event id, `correlation_id`
    /// and the event type as properties, the registry's Avro schema.
    pub async fn publish(&self, bus: &PulsarBus, event: &IntegrationEvent, correlation_id: &str) {
        let metadata = EventMetadata {
            event_id: Uuid::now_v7(),
            event_type: event.event_type().to_owned(),
            correlation_id: correlation_id.to_owned(),
            causation_id: None,
            occurred_at: chrono::Utc::now(),
            producer: "e2e".to_owned(),
        };
        let message = OutboxMessage::new(event, &metadata)
            .unwrap_or_else(|error| self.fail(format!("encode {event:?}: {error}")));
        Box::pin(bus.publish(&message))
            .await
            .unwrap_or_else(|error| self.fail(format!("publish {event:?}: {error}")));
    }

    /// A consumer of the run's topic `short` from now on (its own subscription).
    pub async fn subscribe(&self, short: &str) -> EventConsumer {
        let topic = Topic::from_name(short).expect("a contract topic");
        let client = tokio::time::timeout(
            Duration::from_secs(30),
            Box::pin(Pulsar::builder(self.pulsar_url.clone(), TokioExecutor).build()),
        )
        .await
        .unwrap_or_else(|_| self.fail("Pulsar did not answer within 30 s"))
        .unwrap_or_else(|error| self.fail(format!("connect to Pulsar: {error}")));
        let consumer = tokio::time::timeout(
            Duration::from_secs(30),
            Box::pin(
                client
                    .consumer()
                    .with_topic(self.topic(short))
                    .with_subscription(format!("e2e-reader-{}", Uuid::new_v4().simple()))
                    .with_options(
                        ConsumerOptions::default().with_initial_position(InitialPosition::Latest),
                    )
                    .build(),
            ),
        )
        .await
        .unwrap_or_else(|_| self.fail(format!("subscribing to {short} took over 30 s")))
        .unwrap_or_else(|error| self.fail(format!("subscribe to {short}: {error}")));
        EventConsumer {
            topic,
            consumer,
            seen: Vec::new(),
        }
    }
}

/// Reads one topic of the run, keeping every event it decoded.
pub struct EventConsumer {
    topic: Topic,
    consumer: Consumer<Vec<u8>, TokioExecutor>,
    /// Every event read so far, with its properties, in arrival order.
    pub seen: Vec<(IntegrationEvent, BTreeMap<String, String>, Instant)>,
}

impl EventConsumer {
    /// Reads (acknowledging everything) until `done` holds for what was seen, for at most
    /// `within`; the error names how many events were seen.
    pub async fn read_until(
        &mut self,
        within: Duration,
        mut done: impl FnMut(&[(IntegrationEvent, BTreeMap<String, String>, Instant)]) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        while !done(&self.seen) {
            let next = tokio::time::timeout_at(deadline, self.consumer.next()).await;
            let message = match next {
                Err(_) => {
                    return Err(format!(
                        "{} events read on {} within {within:?}, not the expected ones",
                        self.seen.len(),
                        self.topic
                    ));
                }
                Ok(None) => return Err(format!("the consumer of {} ended", self.topic)),
                Ok(Some(Err(error))) => return Err(format!("receive on {}: {error}", self.topic)),
                Ok(Some(Ok(message))) => message,
            };
            let arrived = Instant::now();
            let _ = self.consumer.ack(&message).await;
            let properties = message
                .metadata()
                .properties
                .iter()
                .map(|pair| (pair.key.clone(), pair.value.clone()))
                .collect();
            match IntegrationEvent::decode(self.topic, &message.payload.data) {
                Ok(event) => self.seen.push((event, properties, arrived)),
                Err(error) => {
                    return Err(format!("undecodable message on {}: {error}", self.topic));
                }
            }
        }
        Ok(())
    }

    /// The report events seen for campaign `campaign_id`: (`tipo_evento`, `estado`).
    pub fn report_events_of(&self, campaign_id: &str) -> Vec<(String, String)> {
        report_events(&self.seen, campaign_id)
    }

    /// Reads until `expected` report events of `campaign_id` were seen (or fails the test
    /// naming what was), then waits `quiet` more and checks that nothing else came.
    pub async fn expect_report_events(
        &mut self,
        env: &Env,
        campaign_id: &str,
        expected: &[(&str, &str)],
        quiet: Duration,
    ) {
        let wanted: Vec<(String, String)> = expected
            .iter()
            .map(|(kind, state)| ((*kind).to_owned(), (*state).to_owned()))
            .collect();
        let reached = self
            .read_until(FLOW_TIMEOUT, |seen| {
                report_events(seen, campaign_id).len() >= wanted.len()
            })
            .await;
        let _ = self.read_until(quiet, |_| false).await;
        let seen = self.report_events_of(campaign_id);
        if let Err(error) = reached {
            env.fail(format!(
                "eventos-reportes of campaign {campaign_id}: {error}; seen {seen:?}, expected {wanted:?}"
            ));
        }
        assert_eq!(seen, wanted, "eventos-reportes of campaign {campaign_id}");
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.consumer.unsubscribe()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.consumer.close()).await;
    }
}

/// The report events in `seen` for campaign `campaign_id`: (`tipo_evento`, `estado`).
pub fn report_events(
    seen: &[(IntegrationEvent, BTreeMap<String, String>, Instant)],
    campaign_id: &str,
) -> Vec<(String, String)> {
    seen.iter()
        .filter_map(|(event, _, _)| match event {
            IntegrationEvent::Reporte(report)
                if report.id_campana.as_deref() == Some(campaign_id) =>
            {
                Some((
                    report.tipo_evento.clone().unwrap_or_default(),
                    report.estado.clone().unwrap_or_default(),
                ))
            }
            _ => None,
        })
        .collect()
}
