#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("compensate-report");
    alpes_shared::http::serve(compensate_report::app(), 8080).await
}
