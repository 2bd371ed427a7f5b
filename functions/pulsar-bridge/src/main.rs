#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("pulsar-bridge");
    alpes_shared::http::serve(pulsar_bridge::app()).await
}
