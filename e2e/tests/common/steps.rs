//! The flows' steps through the functions' HTTP APIs: registering an influencer, creating
//! a campaign, and waiting for the campaign, contract and report the saga produces.

use std::time::Instant;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    CREATE_CAMPAIGN, Env, GENERATE_REPORT, REGISTER_INFLUENCER, SEND_CONTRACT, eventually,
    get_array, post_json, text,
};

pub struct Influencer {
    pub id: String,
    pub nombre: String,
    pub email: String,
}

/// `POST /influencers` with a unique email: 201. Returns the influencer and when the 201
/// arrived.
pub async fn register_influencer(
    env: &Env,
    client: &reqwest::Client,
    nombre: &str,
) -> (Influencer, Instant) {
    let email = format!("e2e-{}@example.com", Uuid::new_v4().simple());
    let url = env.url(REGISTER_INFLUENCER, "/influencers");
    let (status, body) = post_json(
        env,
        client,
        &url,
        &json!({"nombre": nombre, "email": email, "categorias": ["moda", "viajes"]}),
    )
    .await;
    let registered_at = Instant::now();
    if status != 201 {
        env.fail(format!("POST {url}: {status} {body}"));
    }
    let influencer = Influencer {
        id: text(&body, "id").to_owned(),
        nombre: nombre.to_owned(),
        email,
    };
    if influencer.id.is_empty() {
        env.fail(format!("POST {url}: 201 without an id: {body}"));
    }
    (influencer, registered_at)
}

/// `POST /campanas` for `influencer` (201); returns the campaign.
pub async fn create_campaign(
    env: &Env,
    client: &reqwest::Client,
    body: &Value,
    expected_status: u16,
) -> Value {
    let url = env.url(CREATE_CAMPAIGN, "/campanas");
    let (status, answer) = post_json(env, client, &url, body).await;
    if status != expected_status {
        env.fail(format!(
            "POST {url} {body}: {status} {answer}, expected {expected_status}"
        ));
    }
    answer
}

pub fn campaign_body(influencer: &Influencer, nombre: &str, tipo_contrato: &str) -> Value {
    json!({
        "nombre": nombre,
        "descripcion": "Campaña de la prueba de punta a punta",
        "valor_comision": 250,
        "moneda": "EUR",
        "categorias_objetivo": ["moda"],
        "influencer_id": influencer.id,
        "influencer_nombre": influencer.nombre,
        "influencer_email": influencer.email,
        "tipo_contrato": tipo_contrato,
        "entregables": "3 publicaciones",
    })
}

/// Waits for exactly one campaign of `influencer_id` (two or more fail at once).
pub async fn the_one_campaign_of(
    env: &Env,
    client: &reqwest::Client,
    influencer_id: &str,
) -> Value {
    let url = env.url(
        CREATE_CAMPAIGN,
        &format!("/campanas?influencer_id={influencer_id}&limite=100"),
    );
    eventually(
        env,
        &format!("one campaign of influencer {influencer_id}"),
        async || {
            let campaigns = get_array(client, &url).await?;
            match campaigns.as_slice() {
                [campaign] => Ok(campaign.clone()),
                [] => Err("no campaign yet".to_owned()),
                _ => env.fail(format!(
                    "influencer {influencer_id} has {} campaigns, expected one: {campaigns:#?}",
                    campaigns.len()
                )),
            }
        },
    )
    .await
}

/// The contracts of (`influencer_id`, `campaign_id`) as send-contract lists them.
pub async fn contracts_of(
    client: &reqwest::Client,
    env: &Env,
    influencer_id: &str,
    campaign_id: Option<&str>,
) -> Result<Vec<Value>, String> {
    let mut path = format!("/contratos?id_influencer={influencer_id}&limite=100");
    if let Some(campaign_id) = campaign_id {
        path.push_str(&format!("&id_campana={campaign_id}"));
    }
    get_array(client, &env.url(SEND_CONTRACT, &path)).await
}

/// Waits for exactly one contract of (`influencer_id`, `campaign_id`).
pub async fn the_one_contract_of(
    env: &Env,
    client: &reqwest::Client,
    influencer_id: &str,
    campaign_id: &str,
) -> Value {
    eventually(
        env,
        &format!("the contract of influencer {influencer_id} in campaign {campaign_id}"),
        async || {
            let contracts = contracts_of(client, env, influencer_id, Some(campaign_id)).await?;
            match contracts.as_slice() {
                [contract] => Ok(contract.clone()),
                [] => Err("no contract yet".to_owned()),
                _ => env.fail(format!(
                    "campaign {campaign_id} has {} contracts, expected one: {contracts:#?}",
                    contracts.len()
                )),
            }
        },
    )
    .await
}

/// The reports of `campaign_id` as generate-report lists them.
pub async fn reports_of(
    client: &reqwest::Client,
    env: &Env,
    campaign_id: &str,
) -> Result<Vec<Value>, String> {
    let url = env.url(
        GENERATE_REPORT,
        &format!("/reportes?id_campana={campaign_id}&limite=100"),
    );
    get_array(client, &url).await
}

/// Waits for the campaign's only report to be `estado`. Two reports, or a report in
/// `never` (a state it cannot leave towards `estado`), fail at once.
pub async fn the_report_of(
    env: &Env,
    client: &reqwest::Client,
    campaign_id: &str,
    estado: &str,
    never: &str,
) -> Value {
    eventually(
        env,
        &format!("the report of campaign {campaign_id} {estado}"),
        async || {
            let reports = reports_of(client, env, campaign_id).await?;
            match reports.as_slice() {
                [report] if report["estado"] == estado => Ok(report.clone()),
                [report] if report["estado"] == never => env.fail(format!(
                    "the report of campaign {campaign_id} is {never}, expected {estado}: {report:#}"
                )),
                [report] => Err(format!("one report, {}: {report}", report["estado"])),
                [] => Err("no report yet".to_owned()),
                _ => env.fail(format!(
                    "campaign {campaign_id} has {} reports, expected one: {reports:#?}",
                    reports.len()
                )),
            }
        },
    )
    .await
}

/// Flow 2 after the registration: the welcome campaign, its contract, its completed report.
pub async fn the_welcome_saga(
    env: &Env,
    client: &reqwest::Client,
    influencer: &Influencer,
) -> (Value, Value, Value) {
    let campaign = the_one_campaign_of(env, client, &influencer.id).await;
    let campaign_id = text(&campaign, "id");
    let contract = the_one_contract_of(env, client, &influencer.id, campaign_id).await;
    let report = the_report_of(env, client, campaign_id, "completado", "cancelado").await;
    (campaign, contract, report)
}
