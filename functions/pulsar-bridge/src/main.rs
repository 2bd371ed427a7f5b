#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("pulsar-bridge");
    let config = pulsar_bridge::config::BridgeConfig::from_env()?;
    pulsar_bridge::run(config).await?;
    Ok(())
}
