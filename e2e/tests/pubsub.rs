//! The flows with `EVENT_BUS=pubsub`: topics and push subscriptions on the real Pub/Sub
//! emulator, in a project of the run's own, pointing at the functions' `/events`; the
//! emulator pushes itself (no Pulsar, no bridge involved).

mod common;

use common::*;

#[tokio::test]
async fn the_welcome_saga_through_pubsub() {
    let env = pubsub_env().await;
    let _hint = env.log_hint();
    let client = http();
    let (influencer, campaign, contract, report) =
        welcome_saga_flow(&env, &client, "Pia E2E").await;
    assert_eq!(campaign["influencer_id"], influencer.id.as_str());
    assert_eq!(report["id_contrato"], contract["id"], "{report:#}");
}

#[tokio::test]
async fn the_compensation_through_pubsub() {
    let env = pubsub_env().await;
    let _hint = env.log_hint();
    let client = http();
    exclusive_compensation_flow(&env, &client).await;
}
