//! The end of a run: dropping the last [`Env`] keeps the bridge's metrics, kills the
//! children, drops the databases and deletes the namespace or the emulator resources.

use std::{path::PathBuf, process::Child, sync::PoisonError, time::Duration};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::{BRIDGE, Env, RunLock, TEARDOWN_TIMEOUT, delete_namespace, http};

impl Drop for Env {
    fn drop(&mut self) {
        let teardown = Teardown {
            children: std::mem::take(
                &mut *self.children.lock().unwrap_or_else(PoisonError::into_inner),
            ),
            bridge_url: self.urls.get(BRIDGE).cloned(),
            log_dir: self.log_dir.clone(),
            admin_database_url: self.admin_database_url.clone(),
            databases: std::mem::take(&mut self.created_databases),
            pulsar_admin_url: self.pulsar_admin_url.clone(),
            namespace: self.namespace_created.then(|| self.namespace.clone()),
            pubsub_host: self.pubsub_host.clone(),
            pubsub_resources: std::mem::take(&mut self.pubsub_resources),
            lock: self.lock.take(),
        };
        // Its own thread and runtime: the test's runtime may be gone or busy unwinding.
        let _ = std::thread::spawn(move || teardown.run()).join();
    }
}

/// What dropping an [`Env`] cleans up.
pub struct Teardown {
    children: Vec<(&'static str, Child)>,
    bridge_url: Option<String>,
    log_dir: PathBuf,
    admin_database_url: String,
    databases: Vec<String>,
    pulsar_admin_url: String,
    /// The run's namespace, if it was created.
    namespace: Option<String>,
    pubsub_host: String,
    pubsub_resources: Vec<String>,
    /// Released last, once nothing of the run is left.
    lock: Option<RunLock>,
}

impl Teardown {
    pub fn run(mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else {
            self.kill_children();
            return;
        };
        let lock = self.lock.take();
        runtime.block_on(async {
            self.save_bridge_metrics().await;
            self.kill_children();
            if tokio::time::timeout(TEARDOWN_TIMEOUT, self.drop_databases())
                .await
                .is_err()
            {
                eprintln!(
                    "e2e teardown: dropping {:?} took over {TEARDOWN_TIMEOUT:?}",
                    self.databases
                );
            }
            if tokio::time::timeout(TEARDOWN_TIMEOUT, self.delete_pubsub_resources())
                .await
                .is_err()
            {
                eprintln!(
                    "e2e teardown: deleting the Pub/Sub resources took over {TEARDOWN_TIMEOUT:?}"
                );
            }
            if let Some(namespace) = &self.namespace {
                let deleted = tokio::time::timeout(
                    TEARDOWN_TIMEOUT,
                    delete_namespace(&http(), &self.pulsar_admin_url, namespace),
                )
                .await;
                if !matches!(deleted, Ok(true)) {
                    eprintln!(
                        "e2e teardown: namespace {namespace} not deleted (the next run removes it)"
                    );
                }
            }
        });
        drop(lock);
    }

    /// Keeps the bridge's counters (delivered, failed, dead-lettered) beside the logs.
    pub async fn save_bridge_metrics(&self) {
        let Some(bridge_url) = &self.bridge_url else {
            return;
        };
        let metrics = async {
            http()
                .get(format!("{bridge_url}/metrics"))
                .timeout(Duration::from_secs(3))
                .send()
                .await?
                .text()
                .await
        };
        if let Ok(text) = metrics.await {
            let _ = std::fs::write(self.log_dir.join("bridge-metrics.txt"), text);
        }
    }

    pub fn kill_children(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn drop_databases(&self) {
        if self.databases.is_empty() {
            return;
        }
        let mut admin = match PgConnection::connect(&self.admin_database_url).await {
            Ok(admin) => admin,
            Err(error) => {
                eprintln!("e2e teardown: cannot drop {:?}: {error}", self.databases);
                return;
            }
        };
        for name in &self.databases {
            let dropped = sqlx::query(AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
            )))
            .execute(&mut admin)
            .await;
            if let Err(error) = dropped {
                eprintln!("e2e teardown: DROP DATABASE {name}: {error}");
            }
        }
        let _ = admin.close().await;
    }

    /// Deletes the run's emulator subscriptions and topics (subscriptions first: the
    /// emulator would keep pushing to processes that are gone).
    pub async fn delete_pubsub_resources(&self) {
        let client = http();
        for path in self.pubsub_resources.iter().rev() {
            let url = format!("http://{}/v1/{path}", self.pubsub_host);
            match client.delete(&url).send().await {
                Ok(response) if response.status().is_success() || response.status() == 404 => {}
                Ok(response) => eprintln!("e2e teardown: DELETE {url}: {}", response.status()),
                Err(error) => eprintln!("e2e teardown: DELETE {url}: {error}"),
            }
        }
    }
}
