use alpes_shared::{
    http::{FunctionConfig, Runtime, serve, telemetry},
    store::Context,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(send_contract::NAME);
    let config = FunctionConfig::from_env()?;
    let port = config.port;
    let runtime = Runtime::new(send_contract::NAME, config, Context::Alpes);
    runtime.spawn_relay();
    serve(send_contract::app(runtime), port).await
}
