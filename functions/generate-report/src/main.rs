#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("generate-report");
    alpes_shared::http::serve(generate_report::app(), 8080).await
}
