#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("register-influencer");
    alpes_shared::http::serve(register_influencer::app(), 8080).await
}
