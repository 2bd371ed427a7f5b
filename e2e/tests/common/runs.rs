//! Runs taking turns: the advisory lock serializing e2e runs, the marker of their
//! children, and removing what runs killed before their teardown left behind.

use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::{Env, delete_namespace, http};

/// Environment variable marking the children of a run (its value is the run id).
pub const RUN_MARKER: &str = "ALPES_E2E_RUN";
/// The PostgreSQL advisory lock serializing e2e runs ("alpese2e").
pub const RUN_LOCK_KEY: i64 = 0x616c_7065_7365_3265;
/// How long a run waits for another one to finish.
pub const RUN_LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// One e2e run at a time against the dev services: a session advisory lock in the database
/// of `DATABASE_URL`, held by a connection on its own thread until dropped.
///
/// Subscriptions of concurrent runs never steal each other's messages, but every run's
/// functions act on every message of the shared topics: a second run's send-contract
/// signs a contract for this run's campaign and announces it, and this run's
/// generate-report then attaches that foreign contract to its report (seen when two runs
/// overlapped). So runs wait for each other instead. A closed connection (a run that
/// died) releases the lock.
pub struct RunLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

impl RunLock {
    pub async fn acquire(database_url: String) -> Self {
        let (acquired_tx, acquired_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = acquired_tx.send(Err(format!("a runtime for the run lock: {error}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut connection = match PgConnection::connect(&database_url).await {
                    Ok(connection) => connection,
                    Err(error) => {
                        let _ = acquired_tx.send(Err(format!(
                            "cannot connect to {database_url} (is PostgreSQL running? `make services`): {error}"
                        )));
                        return;
                    }
                };
                let deadline = Instant::now() + RUN_LOCK_TIMEOUT;
                let mut announced = false;
                loop {
                    let locked: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                        .bind(RUN_LOCK_KEY)
                        .fetch_one(&mut connection)
                        .await;
                    match locked {
                        Ok(true) => break,
                        Ok(false) if Instant::now() < deadline => {
                            if !announced {
                                eprintln!("e2e: waiting for another e2e run to finish (advisory lock {RUN_LOCK_KEY})");
                                announced = true;
                            }
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                        Ok(false) => {
                            let _ = acquired_tx.send(Err(format!(
                                "another e2e run held the advisory lock {RUN_LOCK_KEY} for over {RUN_LOCK_TIMEOUT:?}"
                            )));
                            return;
                        }
                        Err(error) => {
                            let _ = acquired_tx.send(Err(format!("pg_try_advisory_lock: {error}")));
                            return;
                        }
                    }
                }
                if acquired_tx.send(Ok(())).is_err() {
                    return;
                }
                // Until the run is over (the sender dropped): nothing else runs on this
                // thread, and the idle connection keeps the lock.
                let _ = released.recv();
                let _ = connection.close().await;
            });
        });
        let lock = Self {
            release: Some(release),
            holder: Some(holder),
        };
        match acquired_rx.await {
            Ok(Ok(())) => lock,
            Ok(Err(error)) => panic!("{error}"),
            Err(_) => panic!("the run lock's thread ended without an answer"),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            let _ = holder.join();
        }
    }
}

impl Env {
    /// Removes what runs killed before their teardown left behind: their databases and
    /// their namespaces. Only when no process of theirs is running, under the run lock (so
    /// no other run is active); names are matched exactly (`e2e_alpes_<32 hex>`,
    /// `public/e2e-<32 hex>`). Best effort.
    pub async fn remove_leftovers(&self) {
        let mut removed = Vec::new();
        if let Ok(mut admin) = PgConnection::connect(&self.admin_database_url).await {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'e2e\\_%' ORDER BY datname",
            )
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
            for name in names {
                let ours = ["e2e_alpes_", "e2e_reportes_"]
                    .iter()
                    .any(|prefix| name.strip_prefix(prefix).is_some_and(is_run_id));
                if !ours {
                    continue;
                }
                let dropped = sqlx::query(AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .execute(&mut admin)
                .await;
                if dropped.is_ok() {
                    removed.push(format!("database {name}"));
                }
            }
            let _ = admin.close().await;
        }

        let client = http();
        let url = format!("{}/admin/v2/namespaces/public", self.pulsar_admin_url);
        let namespaces: Vec<String> = match client.get(&url).send().await {
            Ok(response) if response.status() == 200 => response.json().await.unwrap_or_default(),
            _ => Vec::new(),
        };
        for namespace in namespaces {
            let ours = namespace.strip_prefix("public/e2e-").is_some_and(is_run_id);
            if ours && delete_namespace(&client, &self.pulsar_admin_url, &namespace).await {
                removed.push(format!("namespace {namespace}"));
            }
        }
        if !removed.is_empty() {
            eprintln!(
                "e2e run {}: removed what earlier runs left behind: {}",
                self.run,
                removed.join(", ")
            );
        }
    }
}

/// Processes started by an earlier run that are still running (its test process was
/// killed before its teardown): while this run holds the lock no other run is active, so
/// any process carrying [`RUN_MARKER`] is left over. They consume the same topics and act
/// on this run's events, so a failure names them.
pub fn stale_processes() -> Option<String> {
    let marker = format!("{RUN_MARKER}=");
    let stale: Vec<String> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|byte| byte.is_ascii_digit())
        })
        .filter_map(|entry| {
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let run = environ
                .split(|byte| *byte == 0)
                .find_map(|variable| variable.strip_prefix(marker.as_bytes()))?;
            Some(format!(
                "{} (run {})",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(run)
            ))
        })
        .collect();
    (!stale.is_empty()).then(|| {
        format!(
            "processes of an earlier e2e run are still running and act on this run's events too; stop them: pids {}",
            stale.join(", ")
        )
    })
}

/// Whether `text` is a run's id: a UUID in simple form (32 lower-case hex digits).
pub fn is_run_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}
