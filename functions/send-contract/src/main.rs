#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpes_shared::http::telemetry::init("send-contract");
    alpes_shared::http::serve(send_contract::app(), 8080).await
}
