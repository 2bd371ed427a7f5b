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
        influencers, reports,
    },
};
use chrono::Utc;
use futures::future::BoxFuture;
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
    let input: NewInfluencer = serde_json::from_value(json!({
        "nombre": "Ana García",
        "email": email,
        "categorias": categories,
        "plataformas": ["instagram", "tiktok"],
        "descripcion": "Creadora de contenido",
        "sitio_web": "https://ana.example.com",
        "telefono": "+34 600 111 222",
    }))
    .unwrap();
    Influencer::register(input, Uuid::now_v7(), Utc::now()).unwrap()
}

fn contract(influencer_id: &str, campaign_id: &str, tipo: &str) -> Contract {
    let input: NewContract = serde_json::from_value(json!({
        "id_influencer": influencer_id,
        "id_campana": campaign_id,
        "monto_total": 2500.5,
        "moneda": "EUR",
        "tipo_contrato": tipo,
        "fecha_inicio": "2026-01-01T00:00:00Z",
        "fecha_fin": "2026-03-01T00:00:00Z",
        "entregables": "3 publicaciones",
    }))
    .unwrap();
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
    let request = json!({"nombre": "Ana García", "email": "ANA@example.com"});
    let ana = influencer("ana@example.com", &["moda", "lifestyle"]);
    let bea = influencer("bea@example.com", &["deporte"]);
    let mut tx = pool.begin().await.unwrap();
    influencers::insert(&mut tx, &ana, Some(&request))
        .await
        .unwrap();
    influencers::insert(&mut tx, &bea, None).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let stored = influencers::find(&mut conn, ana.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.influencer, ana);
    assert_eq!(stored.creation_request, Some(request));
    assert!(
        influencers::find(&mut conn, Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
    let by_email = influencers::find_by_email(&mut conn, ana.email())
        .await
        .unwrap();
    assert_eq!(by_email.unwrap().influencer.id(), ana.id());

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
    influencers::insert(&mut tx, &ana, None).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let again = influencers::insert(&mut tx, &ana, None).await;
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
        writer!(|tx| influencers::insert(&mut tx, &first, None)),
        writer!(|tx| influencers::insert(&mut tx, &second, None)),
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
        writer!(|tx| contracts::insert(&mut tx, &first, None)),
        writer!(|tx| contracts::insert(&mut tx, &second, None)),
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
        writer!(|tx| contracts::insert(&mut tx, &first, None)),
        writer!(|tx| contracts::insert(&mut tx, &second, None)),
    )
    .await;
    exactly_one_wins(outcomes, Constraint::ActiveExclusiveContract);

    // Non-exclusive contracts of the same influencer are fine, and are what the
    // signing rules decide on.
    let other = contract("inf-1", "camp-3", "puntual");
    let mut tx = pool.begin().await.unwrap();
    contracts::insert(&mut tx, &other, None).await.unwrap();
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
    assert_eq!(stored.contract, other);
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
        writer!(|tx| campaigns::insert(&mut tx, &a, None)),
        writer!(|tx| campaigns::insert(&mut tx, &b, None)),
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
            .unwrap()
            .campaign,
        stored
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn campaigns_round_trip_with_their_request(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = alpes(connect);
    let request = json!({
        "nombre": "Campaña Verano",
        "descripcion": "Campaña de verano",
        "tipo_comision": "cpc",
        "valor_comision": 19.99,
        "moneda": "EUR",
        "categorias_objetivo": [],
        "fecha_inicio": "2026-06-01T00:00:00Z",
        "fecha_fin": "2026-08-31T23:59:59Z",
        "influencer_id": "inf-12345",
        "influencer_nombre": "Ana García",
        "influencer_email": "ana@example.com",
        "tipo_contrato": "exclusivo",
        "monto_base": 2500,
        "entregables": "3 publicaciones",
    });
    let input: NewCampaign = serde_json::from_value(request.clone()).unwrap();
    let campaign = Campaign::create(input, Uuid::now_v7(), Utc::now()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    campaigns::insert(&mut tx, &campaign, Some(&request))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let stored = campaigns::find(&mut conn, campaign.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.campaign, campaign);
    assert_eq!(stored.creation_request, Some(request));
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
