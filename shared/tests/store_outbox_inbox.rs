//! The outbox and the inbox against the real PostgreSQL, a fresh database per test.

use std::{collections::BTreeMap, time::Duration};

use alpes_shared::store::{self, Context, DatabaseSettings, inbox, outbox};
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use uuid::Uuid;

fn context_pool(connect: PgConnectOptions, context: Context) -> PgPool {
    store::pool(&DatabaseSettings::new(connect), context)
}

fn message(topic: &str) -> outbox::OutboxMessage {
    let event_id = Uuid::now_v7();
    outbox::OutboxMessage {
        event_id,
        topic: topic.to_owned(),
        message_key: "camp-1".to_owned(),
        event_type: "CampanaCreada".to_owned(),
        payload: vec![2, 0, 1, 255],
        properties: BTreeMap::from([
            ("event_id".to_owned(), event_id.to_string()),
            ("event_type".to_owned(), "CampanaCreada".to_owned()),
        ]),
    }
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn outbox_rows_exist_only_when_their_transaction_commits(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = context_pool(connect, Context::Alpes);
    let rolled_back = message("eventos-campanas");
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, &rolled_back).await.unwrap();
    tx.rollback().await.unwrap();

    let committed = message("eventos-campanas");
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, &committed).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let claimed = outbox::claim_due(&mut tx, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].message, committed,
        "the row round-trips unchanged"
    );
    assert_eq!(claimed[0].attempts, 0);
    outbox::mark_published(&mut tx, &[committed.event_id])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 0);
    let mut tx = pool.begin().await.unwrap();
    assert!(outbox::claim_due(&mut tx, 10).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn concurrent_sweepers_never_claim_the_same_row(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = context_pool(connect, Context::Reportes);
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..6 {
        outbox::enqueue(&mut tx, &message("eventos-reportes"))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let mut first = pool.begin().await.unwrap();
    let mut second = pool.begin().await.unwrap();
    let claimed_first = outbox::claim_due(&mut first, 4).await.unwrap();
    let claimed_second = outbox::claim_due(&mut second, 4).await.unwrap();
    assert_eq!(claimed_first.len(), 4);
    assert_eq!(
        claimed_second.len(),
        2,
        "the second sweeper skips the locked rows"
    );
    let ids = |claimed: &[outbox::PendingMessage]| {
        claimed
            .iter()
            .map(|pending| pending.message.event_id)
            .collect::<Vec<_>>()
    };
    assert!(
        ids(&claimed_first)
            .iter()
            .all(|id| !ids(&claimed_second).contains(id))
    );
    // A function claiming its own fresh rows skips those a sweeper holds.
    let mut own = pool.begin().await.unwrap();
    assert!(
        outbox::claim_ids(&mut own, &ids(&claimed_first))
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_failed_publish_is_retried_after_its_delay(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = context_pool(connect, Context::Alpes);
    let pending = message("eventos-influencers");
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, &pending).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    assert_eq!(outbox::claim_due(&mut tx, 10).await.unwrap().len(), 1);
    outbox::mark_failed(
        &mut tx,
        pending.event_id,
        "broker down",
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    assert!(
        outbox::claim_due(&mut tx, 10).await.unwrap().is_empty(),
        "not due before its delay"
    );
    tx.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut tx = pool.begin().await.unwrap();
    let again = outbox::claim_due(&mut tx, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_inbox_lets_exactly_one_of_two_concurrent_deliveries_through(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = context_pool(connect, Context::Alpes);
    let event_id = Uuid::now_v7().to_string();
    let deliver = |pool: PgPool, event_id: String| async move {
        let mut tx = pool.begin().await.unwrap();
        let first_time = inbox::record(&mut tx, "create-campaign", &event_id)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.commit().await.unwrap();
        first_time
    };
    let (a, b) = tokio::join!(
        tokio::spawn(deliver(pool.clone(), event_id.clone())),
        tokio::spawn(deliver(pool.clone(), event_id.clone())),
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(outcomes.iter().filter(|first| **first).count(), 1);

    // Another consumer of the same event is independent.
    let mut tx = pool.begin().await.unwrap();
    assert!(
        inbox::record(&mut tx, "generate-report", &event_id)
            .await
            .unwrap()
    );
    // A rolled-back delivery leaves no trace: the event can be processed again.
    let other = Uuid::now_v7().to_string();
    assert!(
        inbox::record(&mut tx, "create-campaign", &other)
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert!(
        inbox::record(&mut tx, "create-campaign", &other)
            .await
            .unwrap()
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn both_contexts_share_one_database_without_mixing(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let alpes = context_pool(connect.clone(), Context::Alpes);
    let reportes = context_pool(connect, Context::Reportes);
    let mut tx = alpes.begin().await.unwrap();
    outbox::enqueue(&mut tx, &message("eventos-campanas"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut conn = reportes.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 0);
    let mut conn = alpes.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 1);
}

#[sqlx::test(migrations = false)]
async fn migrating_twice_is_harmless_and_creates_both_contexts(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    store::migrate(&connect).await.unwrap();
    store::migrate(&connect).await.unwrap();
    let pool = context_pool(connect, Context::Reportes);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 0);
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT schema_name::text FROM information_schema.schemata
         WHERE schema_name IN ('alpes', 'reportes') ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(schemas, ["alpes", "reportes"]);
}
