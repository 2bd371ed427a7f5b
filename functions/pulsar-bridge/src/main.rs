#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `pulsar-bridge dlq list|replay|drop ...`: the dead-letter command (also a Cloud Run job).
    if args.first().map(String::as_str) == Some("dlq") {
        std::process::exit(pulsar_bridge::dlq::main(&args[1..]).await);
    }
    alpes_shared::http::telemetry::init("pulsar-bridge");
    let config = pulsar_bridge::config::BridgeConfig::from_env()?;
    let ran = pulsar_bridge::run(config).await;
    // The spans of the last pushes (bounded by the export timeout).
    tokio::task::spawn_blocking(alpes_shared::http::telemetry::shutdown).await?;
    ran?;
    Ok(())
}
