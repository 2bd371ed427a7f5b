#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("create-campaign");
    alpes_shared::http::serve(create_campaign::app(), 8080).await
}
