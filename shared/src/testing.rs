//! Test support shared by the functions' test suites (feature `testing`, dev only).

use std::{
    net::TcpListener,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// A function binary started on a free loopback port, killed when dropped.
pub struct RunningBinary {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
}

impl RunningBinary {
    /// Starts `path` with `PORT` set to a free port and `envs`, and waits (at most 20 s)
    /// until `GET /health` answers 200.
    pub async fn start(path: &str, envs: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .env("PORT", port.to_string())
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {path}: {error}"));
        let running = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = client
                .get(format!("{}/health", running.base_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&answer, Ok(response) if response.status() == 200) {
                return running;
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not answer GET /health with 200 within 20 s (last answer: {answer:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits (at most 10 s) for the process to exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process ignored SIGTERM for 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
