//! Flows shared by the Pulsar and the Pub/Sub topologies (SPEC section 7).

use serde_json::Value;

use super::{
    Env, Influencer, POLL_EVERY, campaign_body, contracts_of, create_campaign, register_influencer,
    reports_of, text, the_one_contract_of, the_report_of, the_welcome_saga,
};

/// Flow 2 then flow 1 through HTTP and events: `POST /influencers` -> exactly one welcome
/// campaign -> its contract and its report -> the report completed with the contract
/// attached. Returns the influencer, campaign, contract and report.
pub async fn welcome_saga_flow(
    env: &Env,
    client: &reqwest::Client,
    nombre: &str,
) -> (Influencer, Value, Value, Value) {
    let (influencer, registered_at) = register_influencer(env, client, nombre).await;
    let (campaign, contract, report) = the_welcome_saga(env, client, &influencer).await;
    let latency = registered_at.elapsed();
    let line = format!(
        "e2e saga latency (201 of POST /influencers -> report completado, polled every {POLL_EVERY:?}): {latency:?}"
    );
    println!("{line}");
    let _ = std::fs::write(env.log_dir.join("saga-latency.txt"), format!("{line}\n"));

    let campaign_id = text(&campaign, "id");
    assert_eq!(campaign["bienvenida"], true, "{campaign:#}");
    assert_eq!(
        campaign["nombre"],
        format!("Campaña de bienvenida para {nombre}"),
        "{campaign:#}"
    );
    assert_eq!(campaign["tipo_contrato"], "puntual", "{campaign:#}");
    assert_eq!(campaign["influencer_email"], influencer.email.as_str());

    assert_eq!(contract["estado"], "activo", "{contract:#}");
    assert_eq!(contract["tipo_contrato"], "puntual", "{contract:#}");
    assert_eq!(contract["monto_total"], 100.0, "{contract:#}");
    assert_eq!(contract["moneda"], "USD", "{contract:#}");

    assert_eq!(report["tipo_reporte"], "campana", "{report:#}");
    assert_eq!(report["id_campana"], campaign_id, "{report:#}");
    assert_eq!(
        report["id_influencer"],
        influencer.id.as_str(),
        "{report:#}"
    );
    assert_eq!(report["id_contrato"], contract["id"], "{report:#}");
    assert_eq!(report["monto_total"], 100.0, "{report:#}");
    assert_eq!(report["moneda"], "USD", "{report:#}");

    (influencer, campaign, contract, report)
}

/// Flow 1 with a rejected contract (SPEC 7 item 3): an influencer holds one active
/// exclusive contract at most, so the second exclusive campaign's contract is rejected and
/// that campaign's report ends `cancelado` by the compensation; the first stays
/// `completado`.
pub async fn exclusive_compensation_flow(env: &Env, client: &reqwest::Client) {
    let (influencer, _) = register_influencer(env, client, "Bea E2E").await;
    let (welcome, _, _) = the_welcome_saga(env, client, &influencer).await;

    let first = create_campaign(
        env,
        client,
        &campaign_body(&influencer, "Exclusiva A", "exclusivo"),
        201,
    )
    .await;
    let first_id = text(&first, "id");
    let first_contract = the_one_contract_of(env, client, &influencer.id, first_id).await;
    assert_eq!(
        first_contract["tipo_contrato"], "exclusivo",
        "{first_contract:#}"
    );
    assert_eq!(first_contract["estado"], "activo", "{first_contract:#}");
    assert_eq!(first_contract["monto_total"], 250.0, "{first_contract:#}");
    let first_report = the_report_of(env, client, first_id, "completado", "cancelado").await;
    assert_eq!(
        first_report["id_contrato"], first_contract["id"],
        "{first_report:#}"
    );

    let second = create_campaign(
        env,
        client,
        &campaign_body(&influencer, "Exclusiva B", "exclusivo"),
        201,
    )
    .await;
    let second_id = text(&second, "id");
    let second_report = the_report_of(env, client, second_id, "cancelado", "completado").await;
    let motivo = text(&second_report, "motivo");
    assert!(
        motivo.starts_with("ContratoRechazado"),
        "the motivo of the cancelled report: {second_report:#}"
    );
    assert!(
        second_report["id_contrato"].is_null(),
        "a rejected contract is never attached: {second_report:#}"
    );

    // The compensation came from the rejection, so the contract step is over.
    let second_contracts = contracts_of(client, env, &influencer.id, Some(second_id))
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        second_contracts.is_empty(),
        "the rejected campaign has a contract: {second_contracts:#?}"
    );
    let first_reports = reports_of(client, env, first_id)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        matches!(first_reports.as_slice(), [report] if report["estado"] == "completado"),
        "the first campaign's report stays completado: {first_reports:#?}"
    );
    let mut contracts: Vec<(String, String)> = contracts_of(client, env, &influencer.id, None)
        .await
        .unwrap_or_else(|error| env.fail(error))
        .iter()
        .map(|contract| {
            (
                text(contract, "id_campana").to_owned(),
                text(contract, "tipo_contrato").to_owned(),
            )
        })
        .collect();
    contracts.sort();
    let mut expected = vec![
        (text(&welcome, "id").to_owned(), "puntual".to_owned()),
        (first_id.to_owned(), "exclusivo".to_owned()),
    ];
    expected.sort();
    assert_eq!(contracts, expected, "the influencer's contracts");
}
