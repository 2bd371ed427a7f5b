//! Failing a test with what helps to understand it: the processes that died, the stale
//! processes of an earlier run, and where the logs of every process are.

use std::{fmt::Display, sync::PoisonError};

use super::Env;

impl Env {
    /// The children that have exited, if any.
    pub fn exited(&self) -> Option<String> {
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        let exited: Vec<String> = children
            .iter_mut()
            .filter_map(|(name, child)| match child.try_wait() {
                Ok(Some(status)) => Some(format!("{name} exited ({status})")),
                _ => None,
            })
            .collect();
        (!exited.is_empty()).then(|| exited.join(", "))
    }

    /// Fails the test with `message`, the processes that died and where the logs are.
    pub fn fail(&self, message: impl Display) -> ! {
        let exited = self
            .exited()
            .map(|exited| format!("\nprocesses no longer running: {exited}"))
            .unwrap_or_default();
        let stale = self
            .stale
            .as_ref()
            .map(|stale| format!("\n{stale}"))
            .unwrap_or_default();
        panic!(
            "{message}{exited}{stale}\nlogs of every process (run {}): {}",
            self.run,
            self.log_dir.display()
        )
    }

    /// Prints where the logs are if the test holding the guard fails.
    pub fn log_hint(&self) -> LogHint<'_> {
        LogHint(self)
    }
}

/// Names the log directory when the test holding it panics.
pub struct LogHint<'a>(&'a Env);

impl Drop for LogHint<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(stale) = &self.0.stale {
                eprintln!("e2e run {}: {stale}", self.0.run);
            }
            eprintln!(
                "e2e run {} failed; logs of every process: {}",
                self.0.run,
                self.0.log_dir.display()
            );
        }
    }
}
