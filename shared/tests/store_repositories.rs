//! The repositories against the real PostgreSQL, a fresh database per test: rows
//! round-trip into the same domain values, lists filter and page in order, and every
//! unique rule holds when two writers race (exactly one wins).

use std::time::Duration;

use alpes_shared::{
    domain::{
        Campaign, CampaignReportInput, CancellationReason, Categories, Contract, Email, ExternalId,
        Influencer, InfluencerState, NewCampaign, NewContract, NewInfluencer, PersonName, Report,
        ReportState,
    },
    store::{
        self, Constraint, Context, DatabaseSettings, Page, StoreError, campaigns, contracts,
        idempotency::{self, Claim, Scope},
        influencers, reports,
    },
};
use chrono::Utc;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use uuid::Uuid;

fn alpes(connect: PgConnectOptions) -> PgPool {
    store::pool(&DatabaseSettings::new(connect), Context::Alpes)
}

fn reportes(connect: PgConnectOptions) -> PgPool {
    store::pool(&DatabaseSettings::new(connect), Context::Reportes)
}

fn influencer(email: &str, categories: &[&str]) -> Influencer {
    let input = NewInfluencer {
        name: Some("Ana García".into()),
        email: Some(email.into()),
        categories: Some(categories.iter().map(ToString::to_string).collect()),
        platforms: Some(vec!["instagram".into(), "tiktok".into()]),
        description: Some("Creadora de contenido".into()),
        website: Some("https://ana.example.com".into()),
        phone: Some("+34 600 111 222".into()),
        ..NewInfluencer::default()
    };
    Influencer::register(input, Uuid::now_v7(), Utc::now()).unwrap()
}

fn contract(influencer_id: &str, campaign_id: &str, tipo: &str) -> Contract {
    let input = NewContract {
        influencer_id: Some(influencer_id.into()),
        campaign_id: Some(campaign_id.into()),
        total_amount: Some(Decimal::new(250050, 2)),
        currency: Some("EUR".into()),
        contract_type: Some(tipo.into()),
        start_date: Some("2026-01-01T00:00:00Z".into()),
        end_date: Some("2026-03-01T00:00:00Z".into()),
        deliverables: Some("3 publicaciones".into()),
    };
    Contract::sign(input, Uuid::now_v7(), Utc::now()).unwrap()
}

fn welcome(influencer_id: &str) -> Campaign {
    Campaign::welcome_for(
        ExternalId::parse(influencer_id).unwrap(),
        PersonName::parse("Ana García").unwrap(),
        Email::parse("ana@example.com").unwrap(),
        Categories::parse("categorias", &["moda"]).unwrap(),
        Uuid::now_v7(),
        Utc::now(),
    )
}

fn campaign_report(campaign_id: &str, pending: Option<CancellationReason>) -> Report {
    Report::for_campaign(
        CampaignReportInput {
            campaign_id: ExternalId::parse(campaign_id).unwrap(),
            campaign_name: Some("Verano".to_owned()),
            influencer_id: Some(ExternalId::parse("inf-1").unwrap()),
            source_data: json!({"campana_id": campaign_id, "nombre": "Verano"}),
        },
        Uuid::now_v7(),
        pending,
        Utc::now(),
    )
}

type Write = Box<dyn FnOnce(PgPool) -> BoxFuture<'static, Result<(), StoreError>> + Send>;

/// Runs two writers concurrently, each in its own transaction that holds its row for a
/// moment before committing, so the second really waits on the first.
async fn race(pool: &PgPool, first: Write, second: Write) -> [Result<(), StoreError>; 2] {
    let (a, b) = tokio::join!(
        tokio::spawn(first(pool.clone())),
        tokio::spawn(second(pool.clone()))
    );
    [a.unwrap(), b.unwrap()]
}

macro_rules! writer {
    (|$tx:ident| $body:expr) => {
        Box::new(move |pool: PgPool| {
            Box::pin(async move {
                let mut $tx = pool.begin().await?;
                $body.await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                $tx.commit().await?;
                Ok(())
            }) as BoxFuture<'static, Result<(), StoreError>>
        }) as Write
    };
}

fn exactly_one_wins(outcomes: [Result<(), StoreError>; 2], rule: Constraint) {
    let wins = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(wins, 1, "exactly one writer wins: {outcomes:?}");
    let loser = outcomes.into_iter().find_map(Result::err).unwrap();
    assert!(
        matches!(&loser, StoreError::Conflict(constraint) if *constraint == rule),
        "the loser hits {rule:?}, got {loser:?}"
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn influencers_round_trip_and_list_in_order(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = alpes(connect);
    let ana = influencer("ana@example.com", &["moda", "lifestyle"]);
    let bea = influencer("bea@example.com", &["deporte"]);
    let mut tx = pool.begin().await.unwrap();
    influencers::insert(&mut tx, &ana).await.unwrap();
    influencers::insert(&mut tx, &bea).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let stored = influencers::find(&mut conn, ana.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, ana);
    assert!(
        influencers::find(&mut conn, Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
    let by_email = influencers::find_by_email(&mut conn, ana.email())
        .await
        .unwrap();
    assert_eq!(by_email.unwrap().id(), ana.id());

    let all = influencers::list(&mut conn, &Default::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all, vec![ana.clone(), bea.clone()], "creation order");
    let moda = influencers::InfluencerFilter {
        category: Some("moda".to_owned()),
        state: None,
        platform: None,
    };
    assert_eq!(
        influencers::list(&mut conn, &moda, Page::default())
            .await
            .unwrap(),
        vec![ana.clone()]
    );
    let activos = influencers::InfluencerFilter {
        category: None,
        state: Some(InfluencerState::Activo),
        platform: None,
    };
    assert!(
        influencers::list(&mut conn, &activos, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
    let second_page = Page {
        limit: 1,
        offset: 1,
    };
    assert_eq!(
        influencers::list(&mut conn, &Default::default(), second_page)
            .await
            .unwrap(),
        vec![bea]
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_same_id_cannot_be_created_twice(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = alpes(connect);
    let ana = influencer("ana@example.com", &["moda"]);
    let mut tx = pool.begin().await.unwrap();
    influencers::insert(&mut tx, &ana).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let again = influencers::insert(&mut tx, &ana).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(Constraint::PrimaryKey(_)))),
        "{again:?}"
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn two_registrations_racing_for_one_email(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = alpes(connect);
    let (first, second) = (
        influencer("ana@example.com", &["moda"]),
        influencer("ana@example.com", &["viajes"]),
    );
    let outcomes = race(
        &pool,
        writer!(|tx| influencers::insert(&mut tx, &first)),
        writer!(|tx| influencers::insert(&mut tx, &second)),
    )
    .await;
    exactly_one_wins(outcomes, Constraint::InfluencerEmail);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn two_contracts_racing_for_one_pair(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = alpes(connect);
    let (first, second) = (
        contract("inf-1", "camp-1", "puntual"),
        contract("inf-1", "camp-1", "temporal"),
    );
    let outcomes = race(
        &pool,
        writer!(|tx| contracts::insert(&mut tx, &first)),
        writer!(|tx| contracts::insert(&mut tx, &second)),
    )
    .await;
    exactly_one_wins(outcomes, Constraint::ContractPerInfluencerAndCampaign);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn two_exclusive_contracts_racing_for_one_influencer(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = alpes(connect);
    let (first, second) = (
        contract("inf-1", "camp-1", "exclusivo"),
        contract("inf-1", "camp-2", "exclusivo"),
    );
    let outcomes = race(
        &pool,
        writer!(|tx| contracts::insert(&mut tx, &first)),
        writer!(|tx| contracts::insert(&mut tx, &second)),
    )
    .await;
    exactly_one_wins(outcomes, Constraint::ActiveExclusiveContract);

    // Non-exclusive contracts of the same influencer are fine, and are what the
    // signing rules decide on.
    let other = contract("inf-1", "camp-3", "puntual");
    let mut tx = pool.begin().await.unwrap();
    contracts::insert(&mut tx, &other).await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let held = contracts::for_influencer(&mut conn, "inf-1").await.unwrap();
    assert_eq!(held.len(), 2);
    assert!(held.contains(&other));
    let filter = contracts::ContractFilter {
        influencer_id: Some("inf-1".to_owned()),
        campaign_id: Some("camp-3".to_owned()),
        state: None,
    };
    assert_eq!(
        contracts::list(&mut conn, &filter, Page::default())
            .await
            .unwrap(),
        vec![other.clone()]
    );
    let stored = contracts::find(&mut conn, other.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, other);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn two_welcome_campaigns_racing_for_one_influencer(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = alpes(connect);
    let (first, second) = (welcome("inf-1"), welcome("inf-1"));
    let (a, b) = (first.clone(), second.clone());
    let outcomes = race(
        &pool,
        writer!(|tx| campaigns::insert(&mut tx, &a)),
        writer!(|tx| campaigns::insert(&mut tx, &b)),
    )
    .await;
    exactly_one_wins(outcomes, Constraint::WelcomeCampaign);

    let mut conn = pool.acquire().await.unwrap();
    let stored = campaigns::find_welcome(&mut conn, "inf-1")
        .await
        .unwrap()
        .unwrap();
    assert!(stored == first || stored == second);
    assert_eq!(
        campaigns::find(&mut conn, stored.id())
            .await
            .unwrap()
            .unwrap(),
        stored
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn campaigns_round_trip(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = alpes(connect);
    let input = NewCampaign {
        name: Some("Campaña Verano".into()),
        description: Some("Campaña de verano".into()),
        commission_type: Some("cpc".into()),
        commission_value: Some(Decimal::new(1999, 2)),
        currency: Some("EUR".into()),
        target_categories: Some(vec![]),
        start_date: Some("2026-06-01T00:00:00Z".into()),
        end_date: Some("2026-08-31T23:59:59Z".into()),
        influencer_id: Some("inf-12345".into()),
        influencer_name: Some("Ana García".into()),
        influencer_email: Some("ana@example.com".into()),
        contract_type: Some("exclusivo".into()),
        base_amount: Some(Decimal::new(2500, 0)),
        deliverables: Some("3 publicaciones".into()),
    };
    let campaign = Campaign::create(input, Uuid::now_v7(), Utc::now()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    campaigns::insert(&mut tx, &campaign).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let stored = campaigns::find(&mut conn, campaign.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, campaign);
    let filter = campaigns::CampaignFilter {
        state: None,
        influencer_id: Some("inf-12345".to_owned()),
    };
    assert_eq!(
        campaigns::list(&mut conn, &filter, Page::default())
            .await
            .unwrap(),
        vec![campaign]
    );
    assert!(
        campaigns::find_welcome(&mut conn, "inf-12345")
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn two_reports_racing_for_one_campaign(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = reportes(connect);
    let (first, second) = (
        campaign_report("camp-1", None),
        campaign_report("camp-1", None),
    );
    let outcomes = race(
        &pool,
        writer!(|tx| reports::insert(&mut tx, &first)),
        writer!(|tx| reports::insert(&mut tx, &second)),
    )
    .await;
    exactly_one_wins(outcomes, Constraint::ReportPerCampaign);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_report_is_updated_under_lock_and_a_pending_compensation_waits_for_it(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = reportes(connect);
    let reason = CancellationReason::parse("ContratoRechazado: ya tiene un exclusivo").unwrap();

    // The rejection arrives first: it is remembered, once.
    let mut tx = pool.begin().await.unwrap();
    assert!(
        reports::record_pending_compensation(&mut tx, "camp-9", &reason)
            .await
            .unwrap()
    );
    let later = CancellationReason::parse("otra razón").unwrap();
    assert!(
        !reports::record_pending_compensation(&mut tx, "camp-9", &later)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    // The report then starts cancelled, with the first reason.
    let mut conn = pool.acquire().await.unwrap();
    let pending = reports::pending_compensation(&mut conn, "camp-9")
        .await
        .unwrap();
    assert_eq!(pending.as_ref(), Some(&reason));
    assert!(
        reports::pending_compensation(&mut conn, "camp-1")
            .await
            .unwrap()
            .is_none()
    );
    let cancelled = campaign_report("camp-9", pending);
    assert_eq!(cancelled.state(), ReportState::Cancelado);
    let mut tx = pool.begin().await.unwrap();
    reports::insert(&mut tx, &cancelled).await.unwrap();
    tx.commit().await.unwrap();

    // An ordinary report: completed under lock, then read back.
    let report = campaign_report("camp-1", None);
    let mut tx = pool.begin().await.unwrap();
    reports::insert(&mut tx, &report).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let mut locked = reports::find_by_campaign_for_update(&mut tx, "camp-1")
        .await
        .unwrap()
        .unwrap();
    let total =
        alpes_shared::domain::Money::from_wire_f32(2500.0, alpes_shared::domain::Currency::USD)
            .unwrap();
    assert!(
        locked
            .attach_contract(ExternalId::parse("ctr-1").unwrap(), total, Utc::now())
            .changed()
    );
    reports::update(&mut tx, &locked).await.unwrap();
    tx.commit().await.unwrap();

    let stored = reports::find(&mut conn, report.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, locked);
    assert_eq!(stored.state(), ReportState::Completado);
    let cancelled_only = reports::ReportFilter {
        state: Some(ReportState::Cancelado),
        ..Default::default()
    };
    assert_eq!(
        reports::list(&mut conn, &cancelled_only, Page::default())
            .await
            .unwrap(),
        vec![cancelled]
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn an_id_is_claimed_once_then_replayed_with_the_same_request_only(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = alpes(connect);
    let id = Uuid::now_v7();
    let request =
        idempotency::Request::new(Scope::Influencer, id, json!({"id": id, "nombre": "Ana"}));
    let other =
        idempotency::Request::new(Scope::Influencer, id, json!({"id": id, "nombre": "Bea"}));
    let as_campaign = idempotency::Request::new(Scope::Campaign, id, json!({"id": id}));
    let mut tx = pool.begin().await.unwrap();
    let claims = [
        idempotency::claim(&mut tx, &request).await.unwrap(),
        idempotency::claim(&mut tx, &request).await.unwrap(),
        idempotency::claim(&mut tx, &other).await.unwrap(),
        // Ids are unique per kind: the same id names another campaign.
        idempotency::claim(&mut tx, &as_campaign).await.unwrap(),
    ];
    assert_eq!(
        claims,
        [Claim::New, Claim::Replay, Claim::Conflict, Claim::New]
    );
    // A rolled-back claim leaves the id free.
    tx.rollback().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, &other).await.unwrap(),
        Claim::New
    );
}

/// The idempotency migration moves the create requests the tables kept into the one
/// table: a replay of a create made before it is still recognised.
#[sqlx::test(migrations = false)]
async fn the_idempotency_migration_keeps_earlier_requests(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_with(connect.clone())
        .await
        .unwrap();
    for migration in [
        include_str!("../../migrations/20261127000001_contexts.sql"),
        include_str!("../../migrations/20261127000002_outbox_inbox.sql"),
        include_str!("../../migrations/20261202000001_outbox_lease_retention.sql"),
    ] {
        sqlx::raw_sql(migration).execute(&pool).await.unwrap();
    }
    let id = Uuid::now_v7();
    let body = json!({"id": id, "nombre": "Ana García", "email": "ana@example.com"});
    sqlx::query(
        "INSERT INTO alpes.influencers (id, nombre, email, categorias, plataformas, estado,
             fecha_creacion, fecha_actualizacion, creation_request)
         VALUES ($1, 'Ana García', 'ana@example.com', '{moda}', '{}', 'pendiente', now(), now(), $2),
                ($3, 'Bea', 'bea@example.com', '{moda}', '{}', 'pendiente', now(), now(), NULL)",
    )
    .bind(id)
    .bind(sqlx::types::Json(&body))
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(include_str!(
        "../../migrations/20261203000001_idempotency.sql"
    ))
    .execute(&pool)
    .await
    .unwrap();

    let pool = alpes(connect);
    let mut tx = pool.begin().await.unwrap();
    let replay = idempotency::Request::new(Scope::Influencer, id, body);
    assert_eq!(
        idempotency::claim(&mut tx, &replay).await.unwrap(),
        Claim::Replay
    );
    let moved: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(moved, 1, "only the create that carried a request");
}
