//! The delivery loop: one supervised task per route keeps its subscriptions and pushes every
//! message they receive, each push in its own task.
//!
//! - A route holds at most `concurrency` messages at once (ordered routes: at most
//!   `max(concurrency, receive_queue)` held, of which `concurrency` pushing). When it is full
//!   it stops pulling from the consumer, whose own queue is bounded by `receive_queue` flow
//!   permits, so the broker keeps the rest.
//! - A message is acknowledged only once it is settled: pushed with a 2xx, re-published to
//!   the retry topic (unordered routes) or published to the dead-letter topic. Anything
//!   else leaves it unacknowledged, for the broker to redeliver.
//! - Batched messages share one broker entry: the entry is acknowledged once every message
//!   in it is settled.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use chrono::Utc;
use futures::{FutureExt, Stream, StreamExt};
use prometheus_client::metrics::gauge::Gauge;
use pulsar::{
    Authentication, ConnectionRetryOptions, Consumer, ConsumerOptions, OperationRetryOptions,
    Pulsar, SubType, TokioExecutor, consumer::InitialPosition, producer, proto::MessageIdData,
    reader::Reader,
};
use tokio::{
    sync::{OnceCell, Semaphore},
    task::{JoinError, JoinSet},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use alpes_shared::trace_context;

use crate::{
    config::RouteConfig,
    ledger::{self, LedgerView},
    message::{Inbound, Source},
    metrics::{self, RouteMetrics},
    pusher::{PushFailure, Pusher},
};

/// Waits between attempts to (re)subscribe a route.
const RESUBSCRIBE_MIN: Duration = Duration::from_millis(500);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(10);
/// Limit on subscribing a route (lookups, subscriptions, reading the attempt ledger).
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often each route asks the broker whether it is there, for `/ready`.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Waits between retries of bridge-side operations (ID token, publish to the broker).
const INTERNAL_RETRY_MIN: Duration = Duration::from_millis(200);
const INTERNAL_RETRY_MAX: Duration = Duration::from_secs(10);
/// Limit on handing the last acknowledgements to the broker at shutdown, per consumer.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);
/// The durable subscription that keeps each dead-letter topic's messages.
pub const DEAD_LETTER_SUBSCRIPTION: &str = "dlq";

type Client = Pulsar<TokioExecutor>;
type ByteConsumer = Consumer<Vec<u8>, TokioExecutor>;

/// The bridge's one Pulsar client, created on first use and re-tried until the broker
/// answers, so the bridge starts (and serves `/health`) while the broker is down.
pub(crate) struct PulsarConnector {
    url: String,
    token: Option<String>,
    client: OnceCell<Client>,
}

impl PulsarConnector {
    pub(crate) fn new(url: String, token: Option<String>) -> Self {
        Self {
            url,
            token,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<Client, pulsar::Error> {
        self.client
            .get_or_try_init(|| async {
                let mut builder = Pulsar::builder(&self.url, TokioExecutor)
                    .with_connection_retry_options(ConnectionRetryOptions {
                        min_backoff: Duration::from_millis(100),
                        max_backoff: Duration::from_secs(5),
                        max_retries: 5,
                        connection_timeout: Duration::from_secs(5),
                        keep_alive: Duration::from_secs(30),
                        ..ConnectionRetryOptions::default()
                    })
                    .with_operation_retry_options(OperationRetryOptions {
                        operation_timeout: Duration::from_secs(30),
                        retry_delay: Duration::from_secs(1),
                        max_retries: Some(10),
                    });
                if let Some(token) = &self.token {
                    builder = builder.with_auth(Authentication {
                        name: "token".into(),
                        data: token.clone().into_bytes(),
                    });
                }
                builder.build().await
            })
            .await
            .cloned()
    }
}

/// What a route's tasks share.
pub(crate) struct RouteContext {
    pub route: RouteConfig,
    pub name: String,
    pub metrics: Arc<RouteMetrics>,
    pub pusher: Arc<Pusher>,
    /// `concurrency` permits: one per push under way.
    pub pushing: Semaphore,
    /// Unique per bridge process (Key_Shared hashes consumers by name).
    pub consumer_name: String,
    pub shutdown_grace: Duration,
}

/// Runs one route until `shutdown`: subscribes, delivers, and subscribes again whenever the
/// subscription is lost.
pub(crate) async fn run_route(
    context: Arc<RouteContext>,
    connector: Arc<PulsarConnector>,
    shutdown: CancellationToken,
) {
    let _probe = AbortOnDrop(tokio::spawn(probe(
        context.clone(),
        connector.clone(),
        shutdown.clone(),
    )));
    let mut wait = RESUBSCRIBE_MIN;
    while !shutdown.is_cancelled() {
        let opened = tokio::select! {
            opened = tokio::time::timeout(SUBSCRIBE_TIMEOUT, Session::open(&context, &connector, &shutdown)) => opened,
            () = shutdown.cancelled() => break,
        };
        match opened {
            Ok(Ok(session)) => {
                context.metrics.subscribed.store(true, Ordering::Relaxed);
                context
                    .metrics
                    .broker_reachable
                    .store(true, Ordering::Relaxed);
                tracing::info!(route = %context.name, "route subscribed");
                wait = RESUBSCRIBE_MIN;
                let end = session.run().await;
                context.metrics.subscribed.store(false, Ordering::Relaxed);
                match end {
                    End::Shutdown => break,
                    End::Lost(reason) => {
                        tracing::warn!(route = %context.name, reason, "route lost its subscription, subscribing again");
                    }
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(route = %context.name, %error, retry_in = ?wait, "cannot subscribe");
            }
            Err(_) => {
                tracing::warn!(route = %context.name, timeout = ?SUBSCRIBE_TIMEOUT, retry_in = ?wait, "subscribing timed out");
            }
        }
        if !pause(wait, &shutdown).await {
            break;
        }
        wait = (wait * 2).min(RESUBSCRIBE_MAX);
    }
    tracing::info!(route = %context.name, "route stopped");
}

/// Aborts a background task when dropped, also when its owner is aborted.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Asks the broker about the route's topic every few seconds: a consumer whose connection
/// is down does not say so until the client gives up reconnecting.
async fn probe(
    context: Arc<RouteContext>,
    connector: Arc<PulsarConnector>,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(PROBE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let Some(client) = connector.client.get().cloned() else {
            continue;
        };
        let answered = tokio::time::timeout(
            PROBE_TIMEOUT,
            client.lookup_topic(context.route.topic.clone()),
        )
        .await
        .is_ok_and(|lookup| lookup.is_ok());
        let before = context
            .metrics
            .broker_reachable
            .swap(answered, Ordering::Relaxed);
        if before != answered {
            if answered {
                tracing::info!(route = %context.name, "broker answers again");
            } else {
                tracing::warn!(route = %context.name, "broker does not answer");
            }
        }
    }
}

enum End {
    Shutdown,
    Lost(&'static str),
}

/// How a message's task ended.
enum Outcome {
    /// Pushed, scheduled for retry or dead-lettered: acknowledge it.
    Settled,
    /// Shutdown came first: leave it to redelivery.
    Released,
}

/// What the loop remembers of a message whose task runs.
struct Running {
    source: Source,
    topic: String,
    id: MessageIdData,
    batch_size: Option<i32>,
    key: Option<Vec<u8>>,
}

/// A route's subscriptions and the messages it holds, owned by one loop.
struct Session {
    context: Arc<RouteContext>,
    pulsar: Client,
    main: ByteConsumer,
    retry: Option<ByteConsumer>,
    ledger_reader: Option<Reader<Vec<u8>, TokioExecutor>>,
    ledger_janitor: Option<ByteConsumer>,
    ledger: LedgerView,
    tasks: JoinSet<Outcome>,
    running: HashMap<tokio::task::Id, Running>,
    /// Ordered routes: keys with a message under way, and the messages waiting behind it.
    waiting: HashMap<Vec<u8>, VecDeque<Inbound>>,
    /// Messages received and not settled (running or waiting).
    held: usize,
    capacity: usize,
    /// Copies held, so a redelivered copy of a message under way is not pushed twice.
    holding: HashSet<(Source, MessageIdData)>,
    /// Batch entries partly settled: the batch indexes settled so far.
    batches: HashMap<(Source, u64, u64, i32), HashSet<i32>>,
    shutdown: CancellationToken,
}

async fn subscribe(
    pulsar: &Client,
    context: &RouteContext,
    topic: &str,
    sub_type: SubType,
) -> Result<ByteConsumer, pulsar::Error> {
    let route = &context.route;
    pulsar
        .consumer()
        .with_topic(topic)
        .with_subscription(&route.subscription)
        .with_subscription_type(sub_type)
        .with_consumer_name(&context.consumer_name)
        .with_batch_size(route.receive_queue)
        .with_options(
            ConsumerOptions::default()
                .with_initial_position(InitialPosition::Earliest)
                .with_receiver_queue_size(route.receive_queue),
        )
        .build()
        .await
}

/// Makes sure the route's dead-letter topic has the durable subscription
/// [`DEAD_LETTER_SUBSCRIPTION`] (from the earliest message), so the broker keeps every dead
/// letter until it is replayed or dropped (`pulsar-bridge dlq`), whatever the namespace's
/// retention. Subscribing is idempotent; the consumer is closed at once, the subscription
/// stays.
async fn ensure_dead_letter_subscription(
    pulsar: &Client,
    context: &RouteContext,
) -> Result<(), pulsar::Error> {
    let topic = context.route.dead_letter_topic();
    let mut consumer: ByteConsumer = pulsar
        .consumer()
        .with_topic(&topic)
        .with_subscription(DEAD_LETTER_SUBSCRIPTION)
        .with_subscription_type(SubType::Shared)
        .with_consumer_name(format!("{}-dlq-keeper", context.consumer_name))
        .with_options(
            ConsumerOptions::default()
                .with_initial_position(InitialPosition::Earliest)
                .with_receiver_queue_size(1),
        )
        .build()
        .await?;
    if let Err(error) = consumer.close().await {
        tracing::debug!(route = %context.name, %error, "closing the dead-letter keeper");
    }
    Ok(())
}

async fn next_of<S: Stream + Unpin>(stream: Option<&mut S>) -> Option<S::Item> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

impl Session {
    async fn open(
        context: &Arc<RouteContext>,
        connector: &PulsarConnector,
        shutdown: &CancellationToken,
    ) -> Result<Self, pulsar::Error> {
        let pulsar = connector.client().await?;
        let route = &context.route;
        let (ledger_reader, ledger_janitor, ledger) = if route.ordered_by_key {
            let (streams, view) = ledger::open(&pulsar, route, &context.consumer_name).await?;
            (Some(streams.reader), Some(streams.janitor), view)
        } else {
            (None, None, LedgerView::default())
        };
        ensure_dead_letter_subscription(&pulsar, context).await?;
        // Ordered routes retry in place, but consume their retry topic too: replayed dead
        // letters (`pulsar-bridge dlq replay`) come back through it, to this route only.
        let (main, capacity) = if route.ordered_by_key {
            let main = subscribe(&pulsar, context, &route.topic, SubType::KeyShared).await?;
            (main, route.concurrency.max(route.receive_queue as usize))
        } else {
            let main = subscribe(&pulsar, context, &route.topic, SubType::Shared).await?;
            (main, route.concurrency)
        };
        let retry = Some(subscribe(&pulsar, context, &route.retry_topic(), SubType::Shared).await?);
        Ok(Self {
            context: context.clone(),
            pulsar,
            main,
            retry,
            ledger_reader,
            ledger_janitor,
            ledger,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            waiting: HashMap::new(),
            held: 0,
            capacity,
            holding: HashSet::new(),
            batches: HashMap::new(),
            shutdown: shutdown.clone(),
        })
    }

    async fn run(mut self) -> End {
        let shutdown = self.shutdown.clone();
        let end = loop {
            let can_pull = self.held < self.capacity;
            // Biased, in this order: shutdown; settling (frees room); the ledger (cheap, and
            // counts must be current); retry copies before new messages, so a backlog on
            // the topic does not hold back messages whose next attempt is due.
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break End::Shutdown,
                Some(joined) = self.tasks.join_next_with_id() => self.finish(joined, false).await,
                item = next_of(self.ledger_reader.as_mut()) => match item {
                    Some(Ok(message)) => self.ledger.apply(&message),
                    Some(Err(error)) => tracing::warn!(route = %self.context.name, %error, "cannot read the attempt ledger"),
                    None => break End::Lost("the attempt ledger's reader stopped"),
                },
                item = next_of(self.ledger_janitor.as_mut()) => match (item, self.ledger_janitor.as_mut()) {
                    (Some(Ok(message)), Some(janitor)) => self.ledger.collect(janitor, message).await,
                    (Some(Err(error)), _) => tracing::warn!(route = %self.context.name, %error, "cannot read the attempt ledger"),
                    _ => break End::Lost("the attempt ledger's subscription stopped"),
                },
                item = next_of(self.retry.as_mut()), if can_pull => match item {
                    Some(Ok(message)) => self.accept(Source::Retry, message),
                    Some(Err(error)) => tracing::warn!(route = %self.context.name, %error, "cannot read a retry message"),
                    None => break End::Lost("the retry topic's consumer stopped"),
                },
                item = self.main.next(), if can_pull => match item {
                    Some(Ok(message)) => self.accept(Source::Main, message),
                    Some(Err(error)) => tracing::warn!(route = %self.context.name, %error, "cannot read a message"),
                    None => break End::Lost("the topic's consumer stopped"),
                },
            }
        };
        match end {
            End::Shutdown => self.drain().await,
            End::Lost(_) => self.tasks.abort_all(),
        }
        let unsettled = i64::try_from(self.held).unwrap_or(i64::MAX);
        self.context.metrics.in_flight.dec_by(unsettled);
        end
    }

    fn accept(&mut self, source: Source, message: pulsar::consumer::Message<Vec<u8>>) {
        let message = Inbound::from_pulsar(source, message);
        if !self.holding.insert((source, message.id.clone())) {
            tracing::debug!(route = %self.context.name, message_id = %message.origin.message_id, "redelivered while under way, skipped");
            return;
        }
        self.held += 1;
        self.context.metrics.in_flight.inc();
        if self.context.route.ordered_by_key
            && let Some(key) = message.order_key()
        {
            if let Some(queue) = self.waiting.get_mut(&key) {
                queue.push_back(message);
                return;
            }
            self.waiting.insert(key, VecDeque::new());
        }
        self.start(message);
    }

    fn start(&mut self, message: Inbound) {
        let ordered = self.context.route.ordered_by_key;
        let recorded = if ordered {
            self.ledger.get(&message.identity()).cloned()
        } else {
            None
        };
        let (attempts, last_error, first_failure) = match recorded {
            Some(entry) if entry.attempts >= message.attempts_before => (
                entry.attempts,
                entry.last_error,
                entry.first_failure.or(message.first_failure),
            ),
            _ => (
                message.attempts_before,
                message.last_error.clone(),
                message.first_failure,
            ),
        };
        // Copies written before first failures were recorded: count from now.
        let first_failure = first_failure.or_else(|| (attempts > 0).then(Utc::now));
        if let Some(first) = first_failure {
            self.context.metrics.retrying(&message.identity(), first);
        }
        let running = Running {
            source: message.source,
            topic: message.topic.clone(),
            id: message.id.clone(),
            batch_size: message.batch_size,
            key: if ordered { message.order_key() } else { None },
        };
        let job = Job {
            context: self.context.clone(),
            pulsar: self.pulsar.clone(),
            message,
            attempts,
            last_error,
            first_failure,
            shutdown: self.shutdown.clone(),
        };
        let task = self.tasks.spawn(job.deliver());
        self.running.insert(task.id(), running);
    }

    async fn finish(
        &mut self,
        joined: Result<(tokio::task::Id, Outcome), JoinError>,
        stopping: bool,
    ) {
        let (task, outcome) = match joined {
            Ok((task, outcome)) => (task, Some(outcome)),
            Err(error) => {
                if error.is_panic() {
                    tracing::error!(route = %self.context.name, %error, "a delivery task panicked");
                }
                (error.id(), None)
            }
        };
        let Some(running) = self.running.remove(&task) else {
            return;
        };
        self.holding.remove(&(running.source, running.id.clone()));
        self.held -= 1;
        self.context.metrics.in_flight.dec();
        match outcome {
            Some(Outcome::Settled) => self.acknowledge(&running).await,
            Some(Outcome::Released) => {}
            // A panic: hand the message back to the broker at once.
            None => {
                if let Some(consumer) = self.consumer(running.source)
                    && let Err(error) = consumer
                        .nack_with_id(&running.topic, running.id.clone())
                        .await
                {
                    tracing::warn!(route = %self.context.name, %error, "cannot nack");
                }
            }
        }
        if let Some(key) = running.key {
            let next = self.waiting.get_mut(&key).and_then(VecDeque::pop_front);
            match next {
                Some(next) if !stopping => self.start(next),
                _ => {
                    self.waiting.remove(&key);
                }
            }
        }
    }

    fn consumer(&mut self, source: Source) -> Option<&mut ByteConsumer> {
        match source {
            Source::Main => Some(&mut self.main),
            Source::Retry => self.retry.as_mut(),
        }
    }

    async fn acknowledge(&mut self, running: &Running) {
        let id = &running.id;
        if let Some(size) = running.batch_size.filter(|size| *size > 1) {
            let entry = (
                running.source,
                id.ledger_id,
                id.entry_id,
                id.partition.unwrap_or(-1),
            );
            let settled = self.batches.entry(entry).or_default();
            settled.insert(id.batch_index.unwrap_or(-1));
            if settled.len() < usize::try_from(size).unwrap_or(usize::MAX) {
                return;
            }
            self.batches.remove(&entry);
        }
        let route = self.context.name.clone();
        if let Some(consumer) = self.consumer(running.source)
            && let Err(error) = consumer.ack_with_id(&running.topic, id.clone()).await
        {
            tracing::warn!(route, %error, "cannot acknowledge");
        }
    }

    /// Shutdown: stop taking messages, give the pushes under way the grace period, and hand
    /// the acknowledgements to the broker. What is not settled by then is redelivered.
    async fn drain(&mut self) {
        let dropped: usize = self.waiting.values().map(VecDeque::len).sum();
        self.waiting.clear();
        self.held -= dropped;
        self.context
            .metrics
            .in_flight
            .dec_by(i64::try_from(dropped).unwrap_or(0));
        let deadline = Instant::now() + self.context.shutdown_grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(joined)) => self.finish(joined, true).await,
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        route = %self.context.name,
                        unfinished = self.tasks.len(),
                        "shutdown grace period over, leaving unfinished messages to redelivery"
                    );
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        flush(&mut self.main).await;
        if let Some(retry) = self.retry.as_mut() {
            flush(retry).await;
        }
        if let Some(janitor) = self.ledger_janitor.as_mut() {
            flush(janitor).await;
        }
    }
}

/// Makes sure the consumer's queued acknowledgements reached the broker: the client sends
/// them in order, so a request answered after them is proof. Messages still buffered are
/// dropped unacknowledged (redelivered later), which also unblocks the client, whose engine
/// waits for room in the buffer before it handles anything else.
async fn flush(consumer: &mut ByteConsumer) {
    let deadline = Instant::now() + FLUSH_LIMIT;
    loop {
        while let Some(Some(_)) = consumer.next().now_or_never() {}
        match tokio::time::timeout(Duration::from_millis(100), consumer.get_stats()).await {
            Ok(_) => return,
            Err(_) if Instant::now() < deadline => {}
            Err(_) => return,
        }
    }
}

/// Sleeps `wait` unless `shutdown` comes first; `false` on shutdown.
async fn pause(wait: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => !shutdown.is_cancelled(),
        () = shutdown.cancelled() => false,
    }
}

/// Counts one more in a gauge while alive.
struct GaugeGuard<'a>(&'a Gauge);

impl<'a> GaugeGuard<'a> {
    fn new(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One message's delivery, from its first push to its settlement.
struct Job {
    context: Arc<RouteContext>,
    pulsar: Client,
    message: Inbound,
    /// Failed attempts so far (from the retry copy or the attempt ledger).
    attempts: u32,
    last_error: Option<String>,
    /// When the first failed attempt was made (from the retry copy or the ledger).
    first_failure: Option<chrono::DateTime<Utc>>,
    shutdown: CancellationToken,
}

impl Job {
    async fn deliver(mut self) -> Outcome {
        let context = self.context.clone();
        let route = &context.route;
        // The broker delivers delayed messages up to a tick (1 s by default) early, and
        // delays below a tick at once: wait out the rest here.
        if let Some(due) = self.message.not_before {
            let early = (due - Utc::now()).to_std().unwrap_or_default();
            if !pause(early.min(route.backoff.max), &self.shutdown).await {
                return Outcome::Released;
            }
        }
        loop {
            if self.attempts >= route.max_attempts {
                let error = self
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "no attempts left".to_owned());
                return self.dead_letter(&error).await;
            }
            let attempt = self.attempts + 1;
            let Some(result) = self.push(attempt).await else {
                return Outcome::Released;
            };
            let failure = match result {
                Ok(()) => return self.delivered().await,
                Err(failure) => failure,
            };
            context.metrics.failed_attempts.inc();
            let error = failure.to_string();
            self.attempts = attempt;
            let now = Utc::now();
            let first_failure = *self.first_failure.get_or_insert(now);
            context
                .metrics
                .retrying(&self.message.identity(), first_failure);
            tracing::warn!(
                route = %context.name,
                message_id = %self.message.origin.message_id,
                attempt,
                max_attempts = route.max_attempts,
                %error,
                "push failed"
            );
            let retrying_for = (now - first_failure).to_std().unwrap_or_default();
            if failure.is_undecodable()
                || self.attempts >= route.max_attempts
                || retrying_for >= route.retry_budget
            {
                return self.dead_letter(&error).await;
            }
            let delay = failure.retry_delay(&route.backoff, attempt);
            if route.ordered_by_key {
                // Retry in place, holding the key's later messages back.
                let record = ledger::attempt_record(
                    &self.message.identity(),
                    attempt,
                    &error,
                    first_failure,
                );
                if !self.publish(&route.attempts_topic(), record).await {
                    return Outcome::Released;
                }
                self.last_error = Some(error);
                if !pause(delay, &self.shutdown).await {
                    return Outcome::Released;
                }
            } else {
                let due =
                    Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                let copy = self.message.retry_copy(attempt, &error, first_failure, due);
                if !self.publish(&route.retry_topic(), copy).await {
                    return Outcome::Released;
                }
                context.metrics.retries_scheduled.inc();
                return Outcome::Settled;
            }
        }
    }

    /// One push attempt; `None` when shutdown came before the request was sent.
    async fn push(&self, attempt: u32) -> Option<Result<(), PushFailure>> {
        let context = &self.context;
        let route = &context.route;
        let mut wait = INTERNAL_RETRY_MIN;
        let authorization = loop {
            match context.pusher.authorization(route).await {
                Ok(authorization) => break authorization,
                Err(error) => {
                    context.metrics.internal_errors.inc();
                    tracing::error!(route = %context.name, %error, retry_in = ?wait, "no push token");
                    if !pause(wait, &self.shutdown).await {
                        return None;
                    }
                    wait = (wait * 2).min(INTERNAL_RETRY_MAX);
                }
            }
        };
        let _permit = tokio::select! {
            permit = context.pushing.acquire() => permit.ok()?,
            () = self.shutdown.cancelled() => return None,
        };
        let body = self.message.push_body(&route.subscription, attempt);
        let property = |name: &str| self.message.properties.get(name).map(String::as_str);
        // A child of the publisher's span (the message's `traceparent`), or a new trace;
        // the endpoint continues under it through the request's `traceparent` header.
        let span = tracing::info_span!(
            "push",
            otel.kind = "client",
            otel.name = format!("push {}", context.name),
            otel.status_code = tracing::field::Empty,
            route = %context.name,
            attempt,
            event_id = property("event_id"),
            event_type = property("event_type"),
            correlation_id = property("correlation_id"),
            status = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        trace_context::continue_from(&span, &self.message.properties);
        let mut trace = HashMap::new();
        trace_context::inject(&span, &mut trace);
        let _pushing = GaugeGuard::new(&context.metrics.pushing);
        let started = Instant::now();
        let result = context
            .pusher
            .push(route, authorization.as_deref(), &trace, body)
            .instrument(span.clone())
            .await;
        metrics::observe(&context.metrics.push_duration, started.elapsed());
        match &result {
            Ok(()) => {
                span.record("status", "delivered");
            }
            Err(failure) => {
                if let PushFailure::Status { status, .. } = failure {
                    span.record("status", status.as_u16());
                }
                span.record("error", tracing::field::display(failure));
                span.record("otel.status_code", "ERROR");
            }
        }
        Some(result)
    }

    async fn delivered(&self) -> Outcome {
        let context = &self.context;
        if context.route.ordered_by_key && self.attempts > 0 {
            // Best effort: a record left behind only costs storage until RECORD_TTL.
            self.publish(
                &context.route.attempts_topic(),
                ledger::done_record(&self.message.identity()),
            )
            .await;
        }
        context.metrics.delivered.inc();
        context.metrics.settled(&self.message.identity());
        let latency = (Utc::now() - self.message.origin.publish_time)
            .to_std()
            .unwrap_or_default();
        metrics::observe(&context.metrics.delivery_latency, latency);
        Outcome::Settled
    }

    async fn dead_letter(&self, error: &str) -> Outcome {
        let context = &self.context;
        let route = &context.route;
        let first_failure = self.first_failure.unwrap_or_else(Utc::now);
        let letter =
            self.message
                .dead_letter(self.attempts, error, first_failure, &route.subscription);
        let topic = route.dead_letter_topic();
        if !self.publish(&topic, letter).await {
            return Outcome::Released;
        }
        if route.ordered_by_key {
            self.publish(
                &route.attempts_topic(),
                ledger::done_record(&self.message.identity()),
            )
            .await;
        }
        context.metrics.dead_lettered.inc();
        context.metrics.settled(&self.message.identity());
        let property = |name: &str| {
            self.message
                .properties
                .get(name)
                .map_or("", String::as_str)
                .to_owned()
        };
        tracing::error!(
            event_id = property("event_id"),
            event_type = property("event_type"),
            correlation_id = property("correlation_id"),
            route = %context.name,
            attempts = self.attempts,
            last_error = error,
            message_id = %self.message.origin.message_id,
            first_failure = %crate::message::rfc3339(first_failure),
            dead_letter_topic = topic,
            "message dead-lettered"
        );
        Outcome::Settled
    }

    /// Publishes `message`, retrying until the broker takes it; `false` on shutdown.
    async fn publish(&self, topic: &str, message: producer::Message) -> bool {
        let mut wait = INTERNAL_RETRY_MIN;
        loop {
            let sent = async { self.pulsar.send(topic, message.clone()).await?.await }.await;
            match sent {
                Ok(_) => return true,
                Err(error) => {
                    self.context.metrics.internal_errors.inc();
                    tracing::error!(route = %self.context.name, topic, %error, retry_in = ?wait, "cannot publish");
                    if !pause(wait, &self.shutdown).await {
                        return false;
                    }
                    wait = (wait * 2).min(INTERNAL_RETRY_MAX);
                }
            }
        }
    }
}
