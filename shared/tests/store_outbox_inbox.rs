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

/// No lease: the row is the relay's at once (as a writer that stopped before publishing).
const NO_LEASE: Duration = Duration::ZERO;
const LEASE: Duration = Duration::from_secs(30);

async fn enqueue_committed(
    pool: &PgPool,
    message: outbox::OutboxMessage,
    lease: Duration,
) -> outbox::Enqueued {
    let mut tx = pool.begin().await.unwrap();
    let enqueued = outbox::enqueue(&mut tx, message, lease).await.unwrap();
    tx.commit().await.unwrap();
    enqueued
}

fn ids(claimed: &[outbox::PendingMessage]) -> Vec<Uuid> {
    claimed
        .iter()
        .map(|pending| pending.message.event_id)
        .collect()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn outbox_rows_exist_only_when_their_transaction_commits(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = context_pool(connect, Context::Alpes);
    let rolled_back = message("eventos-campanas");
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, rolled_back, NO_LEASE)
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let committed = message("eventos-campanas");
    let enqueued = enqueue_committed(&pool, committed.clone(), NO_LEASE).await;
    assert!(!enqueued.leased);

    let claimed = outbox::claim_due(&pool, 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].message, committed,
        "the row round-trips unchanged"
    );
    assert_eq!(claimed[0].attempts, 0);
    assert!(
        outbox::claim_due(&pool, 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "a claimed row is leased: nobody else claims it"
    );
    assert_eq!(
        outbox::mark_published(&pool, &[committed.event_id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        outbox::mark_published(&pool, &[committed.event_id])
            .await
            .unwrap(),
        0,
        "marking twice changes nothing"
    );

    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 0);
    assert!(
        outbox::claim_due(&pool, 10, NO_LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn concurrent_sweepers_never_claim_the_same_row(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = context_pool(connect, Context::Reportes);
    let mut tx = pool.begin().await.unwrap();
    for n in 0..6 {
        let mut row = message("eventos-reportes");
        row.message_key = format!("report-{n}");
        outbox::enqueue(&mut tx, row, NO_LEASE).await.unwrap();
    }
    tx.commit().await.unwrap();

    let (first, second) = tokio::join!(
        outbox::claim_due(&pool, 4, LEASE),
        outbox::claim_due(&pool, 4, LEASE)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.len() + second.len(), 6, "every row claimed once");
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)));
    // The claims are committed: no connection stays checked out for them (a connection
    // goes back to the pool on a task of its own, hence the short wait).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while pool.num_idle() < pool.size() as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a claim kept its connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_row_leased_to_its_writer_is_left_alone_until_the_lease_ends(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = context_pool(connect, Context::Alpes);
    let enqueued = enqueue_committed(
        &pool,
        message("eventos-campanas"),
        Duration::from_millis(300),
    )
    .await;
    assert!(
        enqueued.leased,
        "nothing earlier of its key: the writer publishes it"
    );
    assert!(
        outbox::claim_due(&pool, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let claimed = outbox::claim_due(&pool, 10, LEASE).await.unwrap();
    assert_eq!(ids(&claimed), vec![enqueued.message.event_id]);
    // Released (the publisher gave up before trying): due at once, no attempt counted.
    outbox::release(&pool, &ids(&claimed)).await.unwrap();
    let again = outbox::claim_due(&pool, 10, LEASE).await.unwrap();
    assert_eq!(ids(&again), ids(&claimed));
    assert_eq!(again[0].attempts, 0);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_failed_row_holds_back_its_key_and_no_other(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = context_pool(connect, Context::Alpes);
    let first = enqueue_committed(&pool, message("eventos-campanas"), NO_LEASE).await;
    // A later row of the same key, written while the first is unpublished: not leased to
    // its writer (it must not overtake the first).
    let second = enqueue_committed(&pool, message("eventos-campanas"), LEASE).await;
    assert!(!second.leased);
    let mut other_key = message("eventos-campanas");
    other_key.message_key = "camp-2".to_owned();
    let other = enqueue_committed(&pool, other_key, NO_LEASE).await;

    let claimed = outbox::claim_due(&pool, 1, LEASE).await.unwrap();
    assert_eq!(ids(&claimed), vec![first.message.event_id], "oldest first");
    outbox::mark_failed(
        &pool,
        first.message.event_id,
        "broker down",
        Duration::from_millis(400),
    )
    .await
    .unwrap();

    let claimed = outbox::claim_due(&pool, 10, LEASE).await.unwrap();
    assert_eq!(
        ids(&claimed),
        vec![other.message.event_id],
        "the failed row holds back its key's later row, not another key's"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let claimed = outbox::claim_due(&pool, 10, LEASE).await.unwrap();
    assert_eq!(
        ids(&claimed),
        vec![first.message.event_id, second.message.event_id],
        "once due, the failed row goes first, then its key's next"
    );
    assert_eq!(claimed[0].attempts, 1);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn rows_of_one_transaction_are_all_the_writers(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = context_pool(connect, Context::Reportes);
    // A report's creation and its compensation, written together: both are published
    // inline, in order, by their writer.
    let mut tx = pool.begin().await.unwrap();
    let created = outbox::enqueue(&mut tx, message("eventos-reportes"), LEASE)
        .await
        .unwrap();
    let compensated = outbox::enqueue(&mut tx, message("eventos-reportes"), LEASE)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(created.leased && compensated.leased);
    // A later transaction's row of the same key waits for them.
    let later = enqueue_committed(&pool, message("eventos-reportes"), LEASE).await;
    assert!(!later.leased);
    assert!(
        outbox::claim_due(&pool, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn retention_deletes_only_old_published_rows_and_old_inbox_records(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = context_pool(connect, Context::Alpes);
    let week = Duration::from_secs(7 * 24 * 3600);
    let old_published = enqueue_committed(&pool, message("eventos-campanas"), NO_LEASE).await;
    let recent_published = enqueue_committed(&pool, message("eventos-influencers"), NO_LEASE).await;
    let old_unpublished = enqueue_committed(&pool, message("eventos-contratos"), NO_LEASE).await;
    outbox::mark_published(
        &pool,
        &[
            old_published.message.event_id,
            recent_published.message.event_id,
        ],
    )
    .await
    .unwrap();
    let age = |ids: &[Uuid], days: i32| {
        sqlx::query(
            "UPDATE outbox SET created_at = created_at - make_interval(days => $2),
                 published_at = published_at - make_interval(days => $2)
             WHERE event_id = ANY($1)",
        )
        .bind(ids.to_vec())
        .bind(days)
        .execute(&pool)
    };
    age(
        &[
            old_published.message.event_id,
            old_unpublished.message.event_id,
        ],
        8,
    )
    .await
    .unwrap();
    age(&[recent_published.message.event_id], 6).await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    for (consumer, event) in [("create-campaign", "old"), ("create-campaign", "recent")] {
        inbox::record(&mut tx, consumer, event).await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query(
        "UPDATE processed_events SET processed_at = processed_at - interval '31 days'
         WHERE event_id = 'old'",
    )
    .execute(&pool)
    .await
    .unwrap();

    assert_eq!(outbox::prune_published(&pool, week, 1000).await.unwrap(), 1);
    assert_eq!(outbox::prune_published(&pool, week, 1000).await.unwrap(), 0);
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT event_id FROM outbox ORDER BY created_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        left,
        vec![
            old_unpublished.message.event_id,
            recent_published.message.event_id
        ],
        "an unpublished row is never deleted, however old"
    );
    assert_eq!(
        inbox::prune(&pool, Duration::from_secs(30 * 24 * 3600), 1000)
            .await
            .unwrap(),
        1
    );
    let mut tx = pool.begin().await.unwrap();
    assert!(
        !inbox::record(&mut tx, "create-campaign", "recent")
            .await
            .unwrap(),
        "a recent record still stops a redelivery"
    );
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
    enqueue_committed(&alpes, message("eventos-campanas"), NO_LEASE).await;
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
