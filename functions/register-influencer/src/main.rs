use alpes_shared::{
    http::{FunctionConfig, Runtime, serve, telemetry},
    store::Context,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(register_influencer::NAME);
    let config = FunctionConfig::from_env()?;
    let port = config.port;
    let runtime = Runtime::new(register_influencer::NAME, config, Context::Alpes);
    runtime.spawn_relay();
    serve(register_influencer::app(runtime), port).await
}
