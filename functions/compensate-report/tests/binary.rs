//! The built binary serves `GET /health` on `$PORT` and exits cleanly on SIGTERM.

use alpes_shared::testing::RunningBinary;

#[tokio::test]
async fn serves_health_and_stops_on_sigterm() {
    let running = RunningBinary::start(env!("CARGO_BIN_EXE_compensate-report"), &[]).await;
    let status = running.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
