//! Getting committed outbox rows onto the broker, without ever holding a pooled
//! connection or a row lock while the broker answers (docs/DECISIONS.md, "Write path").
//!
//! - **Inline** ([`Relay::publish_committed`]): right after its commit a function publishes
//!   its own rows, which it holds under a lease written with them (`available_at`), for at
//!   most `PUBLISH_INLINE_BUDGET_MS`; then it answers whatever the broker does. Past the
//!   budget the publish goes on in the background, bounded by the publish timeout. While
//!   the circuit breaker is open (consecutive broker failures) nothing is tried inline.
//! - **Marks** are batched off the request path: one task per process marks many rows
//!   published (or ends their lease) in one statement.
//! - **Sweeps** ([`Relay::sweep`]): claim due rows under a lease in a short committed
//!   transaction, publish them outside any transaction in order, stop at the first broker
//!   error, mark in one statement. A row that failed holds back later rows of its key.
//!
//! A publisher that dies (or loses its CPU) after the broker took a row but before the
//! mark leaves the row to be published again when its lease ends: a duplicate with the
//! same event id, which every consumer's inbox ignores.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

use super::Publisher;
use crate::{
    store::{
        StoreError, inbox,
        outbox::{self, Enqueued, OutboxMessage},
    },
    trace_context,
};

/// Delay before retrying a message that failed `attempts` times: 1 s doubling, at most 60 s.
pub fn retry_delay(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    Duration::from_secs(2_u64.pow(exponent)).min(Duration::from_secs(60))
}

/// How the relay behaves; [`RelaySettings::default`] has the documented defaults.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// How long a request waits for its own inline publish (`PUBLISH_INLINE_BUDGET_MS`).
    pub inline_budget: Duration,
    /// How long a row written or claimed by a publisher stays its own (`OUTBOX_LEASE_MS`);
    /// longer than any publish can take, so two publishers overlap only after a crash.
    pub lease: Duration,
    /// Rows one sweep claims.
    pub batch: i64,
    /// Consecutive broker failures that open the breaker (`PUBLISH_BREAKER_THRESHOLD`).
    pub breaker_threshold: u32,
    /// How long an open breaker skips inline publishing before one request tries again
    /// (`PUBLISH_BREAKER_COOLDOWN_MS`).
    pub breaker_cooldown: Duration,
    /// Published outbox rows older than this are deleted (`OUTBOX_RETENTION_HOURS`).
    pub outbox_retention: Duration,
    /// Inbox records older than this are deleted (`INBOX_RETENTION_HOURS`): longer than
    /// any redelivery, dead-letter replay included.
    pub inbox_retention: Duration,
    /// Rows one retention statement deletes.
    pub prune_batch: i64,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            inline_budget: Duration::from_millis(200),
            lease: Duration::from_secs(30),
            batch: 500,
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(5),
            outbox_retention: Duration::from_secs(7 * 24 * 3600),
            inbox_retention: Duration::from_secs(30 * 24 * 3600),
            prune_batch: 1000,
        }
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    /// Rows the broker took.
    pub published: usize,
    /// Rows the broker refused (at most one: a sweep stops at the first error).
    pub failed: usize,
    /// Claimed rows given back untried after the failure.
    pub released: usize,
}

/// The relay's counters, shared by the relay (which counts) and the function's metrics
/// (which show them). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RelayCounters {
    /// Outbox rows the broker took (inline or in a sweep).
    pub published: prometheus_client::metrics::counter::Counter,
    /// Publishes the broker refused or that timed out.
    pub failures: prometheus_client::metrics::counter::Counter,
}

/// What one retention pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub outbox: u64,
    pub inbox: u64,
}

/// Consecutive broker failures open it; while open, inline publishing is skipped and one
/// request per cooldown probes the broker (as does every relay sweep); a success closes it.
#[derive(Debug)]
struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        }
    }

    fn is_open(&self) -> bool {
        self.open_until
            .lock()
            .map(|until| until.is_some())
            .unwrap_or(false)
    }

    /// Whether the caller may try the broker now. When the cooldown of an open breaker has
    /// passed, the first caller gets to probe and the window starts again for the others.
    fn allows(&self) -> bool {
        let Ok(mut until) = self.open_until.lock() else {
            return true;
        };
        match *until {
            None => true,
            Some(deadline) if Instant::now() >= deadline => {
                *until = Some(Instant::now() + self.cooldown);
                true
            }
            Some(_) => false,
        }
    }

    fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        if let Ok(mut until) = self.open_until.lock()
            && until.take().is_some()
        {
            tracing::info!("broker answers again: inline publishing resumes");
        }
    }

    fn failed(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.threshold
            && let Ok(mut until) = self.open_until.lock()
        {
            if until.is_none() {
                tracing::warn!(
                    failures,
                    cooldown = ?self.cooldown,
                    "broker failing: inline publishing paused, the relay keeps trying"
                );
            }
            *until = Some(Instant::now() + self.cooldown);
        }
    }
}

enum Mark {
    Published(Uuid),
    Release(Uuid),
}

/// Marks rows of inline publishes in batches, on a task of its own (started on first use,
/// so that building a relay needs no runtime and does no I/O).
struct Marker {
    sender: mpsc::UnboundedSender<Mark>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Mark>>>,
}

/// Rows one marking statement covers at most.
const MARK_BATCH: usize = 1000;
/// Tries of one marking statement; after them the rows are left to their lease.
const MARK_TRIES: u32 = 3;

impl Marker {
    fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }

    fn send(&self, pool: &PgPool, mark: Mark) {
        if let Some(receiver) = self.receiver.lock().ok().and_then(|mut slot| slot.take()) {
            tokio::spawn(mark_loop(pool.clone(), receiver));
        }
        // Fails only when the task is gone (runtime shutting down): the lease covers it.
        let _ = self.sender.send(mark);
    }
}

async fn mark_loop(pool: PgPool, mut receiver: mpsc::UnboundedReceiver<Mark>) {
    while let Some(first) = receiver.recv().await {
        let mut published = Vec::new();
        let mut released = Vec::new();
        let mut next = Some(first);
        while let Some(mark) = next.take() {
            match mark {
                Mark::Published(id) => published.push(id),
                Mark::Release(id) => released.push(id),
            }
            if published.len() + released.len() < MARK_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !published.is_empty() {
            with_retries("mark published", || {
                outbox::mark_published(&pool, &published)
            })
            .await;
        }
        if !released.is_empty() {
            with_retries("release", || outbox::release(&pool, &released)).await;
        }
    }
}

async fn with_retries<T, F, Fut>(what: &str, mut statement: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    for attempt in 1..=MARK_TRIES {
        match statement().await {
            Ok(_) => return,
            Err(error) if attempt == MARK_TRIES => {
                tracing::warn!(%error, what, "outbox marks left to the lease: the rows may be published again (same event id)");
            }
            Err(error) => {
                tracing::debug!(%error, what, attempt, "outbox mark failed, retrying");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
}

/// Publishes the outbox of one database through one publisher. Cheap to clone.
pub struct Relay<P> {
    inner: Arc<Inner<P>>,
}

impl<P> Clone for Relay<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<P> {
    pool: PgPool,
    publisher: Arc<P>,
    settings: RelaySettings,
    breaker: Breaker,
    marker: Marker,
    counters: RelayCounters,
}

impl<P: Publisher + 'static> Relay<P> {
    pub fn new(pool: PgPool, publisher: Arc<P>, settings: RelaySettings) -> Self {
        let breaker = Breaker::new(settings.breaker_threshold, settings.breaker_cooldown);
        Self {
            inner: Arc::new(Inner {
                pool,
                publisher,
                settings,
                breaker,
                marker: Marker::new(),
                counters: RelayCounters::default(),
            }),
        }
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.inner.settings
    }

    /// What this relay published and failed to publish, for `/metrics`.
    pub fn counters(&self) -> &RelayCounters {
        &self.inner.counters
    }

    /// Whether the breaker is open (the broker failed repeatedly), for `/ready`.
    pub fn broker_failing(&self) -> bool {
        self.inner.breaker.is_open()
    }

    /// The lease to write a new row with: the relay's lease while inline publishing is on
    /// (or when this write is the one that probes an open breaker after its cooldown),
    /// none while the breaker is open (the row is the relay's at once).
    pub fn inline_lease(&self) -> Duration {
        if self.inner.breaker.allows() {
            self.inner.settings.lease
        } else {
            Duration::ZERO
        }
    }

    /// Adds `message` to the outbox in the caller's transaction (see [`outbox::enqueue`]),
    /// leased to the caller unless the breaker is open.
    pub async fn enqueue(
        &self,
        tx: &mut sqlx::PgConnection,
        message: OutboxMessage,
    ) -> Result<Enqueued, StoreError> {
        outbox::enqueue(tx, message, self.inline_lease()).await
    }

    /// Publishes rows the caller just committed and holds leased, in order, waiting at
    /// most the inline budget. Never fails: what is not published is the relay's. Rows
    /// written without a lease (breaker open, or an earlier row of their key pending) are
    /// left to the relay.
    pub async fn publish_committed(&self, rows: Vec<Enqueued>) {
        let own: Vec<OutboxMessage> = rows
            .into_iter()
            .filter(|row| row.leased)
            .map(|row| row.message)
            .collect();
        if own.is_empty() {
            return;
        }
        let relay = self.clone();
        let publishing = tokio::spawn(async move { relay.publish_in_order(own).await });
        if tokio::time::timeout(self.inner.settings.inline_budget, publishing)
            .await
            .is_err()
        {
            tracing::debug!(
                budget = ?self.inner.settings.inline_budget,
                "inline publish over budget: answering, it goes on in the background"
            );
        }
    }

    fn mark(&self, mark: Mark) {
        self.inner.marker.send(&self.inner.pool, mark);
    }

    async fn publish_in_order(&self, messages: Vec<OutboxMessage>) {
        let mut messages = messages.into_iter();
        while let Some(mut message) = messages.next() {
            let span = publish_span(&mut message);
            match self
                .inner
                .publisher
                .publish(&message)
                .instrument(span.clone())
                .await
            {
                Ok(()) => {
                    self.inner.breaker.succeeded();
                    self.inner.counters.published.inc();
                    self.mark(Mark::Published(message.event_id));
                }
                Err(error) => {
                    span.record("otel.status_code", "ERROR");
                    self.inner.breaker.failed();
                    self.inner.counters.failures.inc();
                    tracing::warn!(event_id = %message.event_id, topic = %message.topic, %error,
                        "inline publish failed: the event stays in the outbox for the relay");
                    self.mark(Mark::Release(message.event_id));
                    for later in messages.by_ref() {
                        self.mark(Mark::Release(later.event_id));
                    }
                }
            }
        }
    }

    /// One sweep: claims up to a batch of due rows (committed at once), publishes them in
    /// order outside any transaction (all handed to the broker, then the receipts awaited
    /// together), keeps the rows before the first broker error, retries that row after
    /// [`retry_delay`] and releases the rest, then marks the published ones in one
    /// statement.
    pub async fn sweep(&self) -> Result<RelayOutcome, StoreError> {
        let settings = &self.inner.settings;
        let claimed = outbox::claim_due(&self.inner.pool, settings.batch, settings.lease).await?;
        if claimed.is_empty() {
            return Ok(RelayOutcome::default());
        }
        let sweep = tracing::info_span!("relay sweep", claimed = claimed.len());
        let mut messages: Vec<OutboxMessage> = claimed
            .iter()
            .map(|pending| pending.message.clone())
            .collect();
        let spans: Vec<tracing::Span> =
            sweep.in_scope(|| messages.iter_mut().map(publish_span).collect());
        let outcomes = self
            .inner
            .publisher
            .publish_all(&messages)
            .instrument(sweep)
            .await;
        for (span, outcome) in spans.iter().zip(&outcomes) {
            if outcome.is_err() {
                span.record("otel.status_code", "ERROR");
            }
        }
        drop(spans);
        let first_failure = outcomes.iter().position(Result::is_err);
        let published: Vec<Uuid> = claimed
            .iter()
            .take(first_failure.unwrap_or(claimed.len()))
            .map(|pending| pending.message.event_id)
            .collect();
        if !published.is_empty() {
            self.inner.breaker.succeeded();
        }
        // Rows after the first failure are given back even if the broker took them (a
        // later duplicate, with the same event id), so that a key's rows never go out
        // again ahead of the failed one.
        outbox::mark_published(&self.inner.pool, &published).await?;
        self.inner
            .counters
            .published
            .inc_by(u64::try_from(published.len()).unwrap_or(u64::MAX));
        let mut outcome = RelayOutcome {
            published: published.len(),
            ..RelayOutcome::default()
        };
        if let Some(index) = first_failure {
            let pending = &claimed[index];
            let error = outcomes
                .into_iter()
                .nth(index)
                .and_then(Result::err)
                .map_or_else(|| "unknown".to_owned(), |error| error.to_string());
            self.inner.breaker.failed();
            self.inner.counters.failures.inc();
            tracing::warn!(event_id = %pending.message.event_id, topic = %pending.message.topic,
                attempts = pending.attempts + 1, %error, "publish failed, will retry");
            outbox::mark_failed(
                &self.inner.pool,
                pending.message.event_id,
                &error,
                retry_delay(pending.attempts),
            )
            .await?;
            let rest: Vec<Uuid> = claimed[index + 1..]
                .iter()
                .map(|pending| pending.message.event_id)
                .collect();
            outbox::release(&self.inner.pool, &rest).await?;
            outcome.failed = 1;
            outcome.released = rest.len();
        }
        Ok(outcome)
    }

    /// Sweeps until nothing more is due, a broker error, or `max_sweeps` sweeps.
    pub async fn drain(&self, max_sweeps: usize) -> Result<RelayOutcome, StoreError> {
        let mut total = RelayOutcome::default();
        for _ in 0..max_sweeps {
            let outcome = self.sweep().await?;
            total.published += outcome.published;
            total.failed += outcome.failed;
            total.released += outcome.released;
            let full =
                i64::try_from(outcome.published).unwrap_or(i64::MAX) >= self.inner.settings.batch;
            if outcome.failed > 0 || !full {
                break;
            }
        }
        Ok(total)
    }

    /// Deletes published outbox rows and inbox records past their retention, at most
    /// `max_batches` statements of each.
    pub async fn prune(&self, max_batches: usize) -> Result<Pruned, StoreError> {
        let settings = &self.inner.settings;
        let mut pruned = Pruned::default();
        for _ in 0..max_batches {
            let deleted = outbox::prune_published(
                &self.inner.pool,
                settings.outbox_retention,
                settings.prune_batch,
            )
            .await?;
            pruned.outbox += deleted;
            if deleted < settings.prune_batch.unsigned_abs() {
                break;
            }
        }
        for _ in 0..max_batches {
            let deleted = inbox::prune(
                &self.inner.pool,
                settings.inbox_retention,
                settings.prune_batch,
            )
            .await?;
            pruned.inbox += deleted;
            if deleted < settings.prune_batch.unsigned_abs() {
                break;
            }
        }
        Ok(pruned)
    }
}
/// A `publish` span for `message`, a child of the trace context its row stored (the
/// request or event that wrote it; a row without one starts a trace). The message goes out
/// carrying the span's own context, so its consumer (the bridge's push, a Pub/Sub
/// subscriber) continues under this span.
fn publish_span(message: &mut OutboxMessage) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.kind = "producer",
        otel.name = format!("publish {}", message.topic),
        otel.status_code = tracing::field::Empty,
        topic = %message.topic,
        event_id = %message.event_id,
        event_type = %message.event_type,
        correlation_id = message.properties.get("correlation_id").map(String::as_str),
    );
    trace_context::continue_from(&span, &message.properties);
    trace_context::inject(&span, &mut message.properties);
    span
}
