use alpes_shared::{
    http::{FunctionConfig, Runtime, serve, telemetry},
    store::Context,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(generate_report::NAME);
    let config = FunctionConfig::from_env()?;
    let port = config.port;
    let runtime = Runtime::new(generate_report::NAME, config, Context::Reportes);
    runtime.spawn_relay();
    serve(generate_report::app(runtime), port).await
}
