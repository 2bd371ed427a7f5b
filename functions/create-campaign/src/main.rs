use alpes_shared::{
    http::{FunctionConfig, Runtime, serve, telemetry},
    store::Context,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(create_campaign::NAME);
    let config = FunctionConfig::from_env()?;
    let port = config.port;
    let runtime = Runtime::new(create_campaign::NAME, config, Context::Alpes);
    runtime.spawn_relay();
    serve(create_campaign::app(runtime), port).await
}
