//! Prometheus metrics in the text exposition format (version 0.0.4), with the official
//! client (`prometheus-client`): each route keeps its counters, gauges and histograms, and
//! one collector writes them, labelled by route, on every scrape of `GET /metrics`.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric},
    metrics::{
        MetricType, TypedMetric,
        counter::Counter,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
    },
    registry::Registry,
};

/// Default of [`RouteMetrics::set_retry_horizon`].
const DEFAULT_RETRY_HORIZON: Duration = Duration::from_secs(600);

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A latency histogram with the bridge's buckets.
fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Records `value` in `histogram`, in seconds.
pub fn observe(histogram: &Histogram, value: Duration) {
    histogram.observe(value.as_secs_f64());
}

/// The labels of every series of a route.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    topic: String,
    subscription: String,
}

/// A retrying message: its first failure, and when this instance last saw it fail.
type Retrying = (DateTime<Utc>, DateTime<Utc>);

/// What one route did since the process started.
#[derive(Debug)]
pub struct RouteMetrics {
    /// `<short topic>/<subscription>`
    pub route: String,
    pub topic: String,
    pub subscription: String,
    labels: RouteLabels,
    /// Messages acknowledged after a 2xx push.
    pub delivered: Counter,
    /// Pushes answered with a non-2xx status, timed out or not connected.
    pub failed_attempts: Counter,
    /// Messages published to the dead-letter topic (then acknowledged).
    pub dead_lettered: Counter,
    /// Failed messages re-published to the retry topic (unordered routes).
    pub retries_scheduled: Counter,
    /// Bridge-side failures that do not count as attempts (token, broker publish).
    pub internal_errors: Counter,
    /// Messages taken from the broker and not yet settled (acknowledged or left to redelivery).
    pub in_flight: Gauge,
    /// Pushes whose HTTP request is under way.
    pub pushing: Gauge,
    /// The route's consumers are subscribed and its engine has not stopped.
    pub subscribed: AtomicBool,
    /// The last broker probe of this route succeeded.
    pub broker_reachable: AtomicBool,
    /// HTTP round trip of every push attempt.
    pub push_duration: Histogram,
    /// From the original publish time to the successful push.
    pub delivery_latency: Histogram,
    /// Messages of `dlq` on the dead-letter topic not yet replayed or dropped, as the admin
    /// API last reported it; -1 while unknown.
    pub dead_letter_backlog: Gauge,
    /// Messages this instance knows to be retrying: identity -> (first failure, when this
    /// instance last saw it fail).
    retrying: Mutex<HashMap<String, Retrying>>,
    /// How long an entry of `retrying` counts without failing again here (its retry copy
    /// may have gone to another instance), in milliseconds.
    retry_horizon_ms: AtomicU64,
}

impl RouteMetrics {
    pub fn new(route: String, topic: String, subscription: String) -> Self {
        let dead_letter_backlog = Gauge::default();
        dead_letter_backlog.set(-1);
        Self {
            labels: RouteLabels {
                route: route.clone(),
                topic: topic.clone(),
                subscription: subscription.clone(),
            },
            route,
            topic,
            subscription,
            delivered: Counter::default(),
            failed_attempts: Counter::default(),
            dead_lettered: Counter::default(),
            retries_scheduled: Counter::default(),
            internal_errors: Counter::default(),
            in_flight: Gauge::default(),
            pushing: Gauge::default(),
            subscribed: AtomicBool::new(false),
            broker_reachable: AtomicBool::new(false),
            push_duration: histogram(),
            delivery_latency: histogram(),
            dead_letter_backlog,
            retrying: Mutex::new(HashMap::new()),
            retry_horizon_ms: AtomicU64::new(DEFAULT_RETRY_HORIZON.as_millis() as u64),
        }
    }

    /// Sets how long a retrying message counts without failing again on this instance
    /// (longer than the longest wait between two attempts plus a push).
    pub fn set_retry_horizon(&self, horizon: Duration) {
        let millis = u64::try_from(horizon.as_millis()).unwrap_or(u64::MAX);
        self.retry_horizon_ms.store(millis, Ordering::Relaxed);
    }

    /// Notes that the message `identity` is retrying since `first_failure`.
    pub fn retrying(&self, identity: &str, first_failure: DateTime<Utc>) {
        self.retrying_at(identity, first_failure, Utc::now());
    }

    fn retrying_at(&self, identity: &str, first_failure: DateTime<Utc>, now: DateTime<Utc>) {
        let mut retrying = self.retrying.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = retrying
            .entry(identity.to_owned())
            .or_insert((first_failure, now));
        entry.0 = entry.0.min(first_failure);
        entry.1 = now;
    }

    /// Notes that the message `identity` is settled for good (delivered or dead-lettered).
    pub fn settled(&self, identity: &str) {
        self.retrying
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(identity);
    }

    /// Messages known to be retrying, and the age of the oldest one's first failure.
    /// Entries not seen failing here within the retry horizon are forgotten: their retry
    /// copy went to another instance.
    pub fn retry_state(&self, now: DateTime<Utc>) -> (usize, Duration) {
        let horizon = chrono::Duration::milliseconds(
            i64::try_from(self.retry_horizon_ms.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
        );
        let mut retrying = self.retrying.lock().unwrap_or_else(PoisonError::into_inner);
        retrying.retain(|_, (_, seen)| now - *seen <= horizon);
        let oldest = retrying
            .values()
            .map(|(first, _)| first)
            .min()
            .and_then(|first| (now - *first).to_std().ok())
            .unwrap_or_default();
        (retrying.len(), oldest)
    }

    /// Subscribed and the broker answers: what `/ready` requires of every route.
    pub fn is_connected(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed) && self.broker_reachable.load(Ordering::Relaxed)
    }
}

/// Every route's metrics, rendered by `GET /metrics`.
#[derive(Debug)]
pub struct Metrics {
    pub routes: Vec<Arc<RouteMetrics>>,
    registry: Registry,
}

impl Metrics {
    pub fn new(routes: Vec<Arc<RouteMetrics>>) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Routes(routes.clone())));
        Self { routes, registry }
    }

    /// The Prometheus text exposition (0.0.4) of every route.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(%error, "cannot encode the metrics");
        }
        out
    }
}

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Writes every family, one series per route. A family's name is given without the
/// `_total` the encoder appends to counters.
#[derive(Debug)]
struct Routes(Vec<Arc<RouteMetrics>>);

/// One family: its name, help (the encoder adds no final period to a collector's) and
/// the metric of a route.
type FamilyOf<M> = (&'static str, &'static str, fn(&RouteMetrics) -> &M);

/// A gauge computed on each scrape: its name, help and value for a route.
type ComputedOf<N> = (&'static str, &'static str, fn(&RouteMetrics) -> N);

const COUNTERS: [FamilyOf<Counter>; 5] = [
    (
        "pulsar_bridge_delivered",
        "Messages acknowledged after a 2xx push.",
        |m| &m.delivered,
    ),
    (
        "pulsar_bridge_failed_attempts",
        "Push attempts answered with a non-2xx status, timed out or not connected.",
        |m| &m.failed_attempts,
    ),
    (
        "pulsar_bridge_dead_lettered",
        "Messages published to the dead-letter topic after their last failed attempt.",
        |m| &m.dead_lettered,
    ),
    (
        "pulsar_bridge_retries_scheduled",
        "Failed messages re-published to the retry topic with a delay.",
        |m| &m.retries_scheduled,
    ),
    (
        "pulsar_bridge_internal_errors",
        "Bridge-side failures not counted as attempts (ID token, publish to the broker).",
        |m| &m.internal_errors,
    ),
];

const GAUGES: [FamilyOf<Gauge>; 3] = [
    (
        "pulsar_bridge_in_flight",
        "Messages received from the broker and not settled yet.",
        |m| &m.in_flight,
    ),
    ("pulsar_bridge_pushing", "Push requests under way.", |m| {
        &m.pushing
    }),
    (
        "pulsar_bridge_dead_letter_backlog",
        "Dead letters kept on the route's dead-letter topic (subscription dlq), from the admin API; -1 while unknown.",
        |m| &m.dead_letter_backlog,
    ),
];

/// Gauges computed on each scrape.
const COMPUTED: [ComputedOf<i64>; 2] = [
    (
        "pulsar_bridge_connected",
        "1 when the route's consumers are subscribed and the broker answers.",
        |m| i64::from(m.is_connected()),
    ),
    (
        "pulsar_bridge_retrying",
        "Messages this instance knows to be waiting for another attempt.",
        |m| i64::try_from(m.retry_state(Utc::now()).0).unwrap_or(i64::MAX),
    ),
];

const OLDEST_RETRY_AGE: ComputedOf<f64> = (
    "pulsar_bridge_oldest_retry_age_seconds",
    "Time since the first failure of the oldest message still retrying (0 when none).",
    |m| m.retry_state(Utc::now()).1.as_secs_f64(),
);

const HISTOGRAMS: [FamilyOf<Histogram>; 2] = [
    (
        "pulsar_bridge_push_duration_seconds",
        "HTTP round trip of each push attempt.",
        |m| &m.push_duration,
    ),
    (
        "pulsar_bridge_delivery_latency_seconds",
        "From the message's original publish time to its successful push.",
        |m| &m.delivery_latency,
    ),
];

impl Routes {
    fn family<M: EncodeMetric + TypedMetric>(
        &self,
        encoder: &mut DescriptorEncoder,
        (name, help, metric): &FamilyOf<M>,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, M::TYPE)?;
        for route in &self.0 {
            metric(route).encode(family.encode_family(&route.labels)?)?;
        }
        Ok(())
    }

    fn computed<N: EncodeGaugeValue>(
        &self,
        encoder: &mut DescriptorEncoder,
        (name, help, value): &ComputedOf<N>,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for route in &self.0 {
            ConstGauge::new(value(route)).encode(family.encode_family(&route.labels)?)?;
        }
        Ok(())
    }
}

impl Collector for Routes {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &COUNTERS {
            self.family(&mut encoder, family)?;
        }
        for family in &GAUGES {
            self.family(&mut encoder, family)?;
        }
        for family in &COMPUTED {
            self.computed(&mut encoder, family)?;
        }
        self.computed(&mut encoder, &OLDEST_RETRY_AGE)?;
        for family in &HISTOGRAMS {
            self.family(&mut encoder, family)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_retry_age() {
        let route = RouteMetrics::new("t/s".into(), "t".into(), "s".into());
        let now = Utc::now();
        assert_eq!(route.retry_state(now), (0, Duration::ZERO));
        route.retrying("a", now - chrono::Duration::seconds(30));
        route.retrying("b", now - chrono::Duration::seconds(5));
        // A later failure of the same message keeps its first failure.
        route.retrying("a", now - chrono::Duration::seconds(1));
        assert_eq!(route.retry_state(now), (2, Duration::from_secs(30)));
        route.settled("a");
        assert_eq!(route.retry_state(now), (1, Duration::from_secs(5)));
        // Not seen failing here for longer than the horizon: gone to another instance.
        route.set_retry_horizon(Duration::from_secs(60));
        route.retrying_at(
            "c",
            now - chrono::Duration::seconds(300),
            now - chrono::Duration::seconds(61),
        );
        assert_eq!(route.retry_state(now).0, 1);
    }

    #[test]
    fn renders_counters_gauges_and_histograms_per_route() {
        let route = Arc::new(RouteMetrics::new(
            "orders/billing".into(),
            "persistent://public/default/orders".into(),
            "bil\"ling".into(),
        ));
        route.delivered.inc();
        route.delivered.inc();
        route.failed_attempts.inc();
        route.in_flight.set(3);
        observe(&route.push_duration, Duration::from_millis(3));
        observe(&route.push_duration, Duration::from_millis(30));
        let text = Metrics::new(vec![route]).render();
        let labels = r#"route="orders/billing",topic="persistent://public/default/orders",subscription="bil\"ling""#;
        for line in [
            "# HELP pulsar_bridge_delivered_total Messages acknowledged after a 2xx push."
                .to_owned(),
            "# TYPE pulsar_bridge_delivered_total counter".to_owned(),
            format!("pulsar_bridge_delivered_total{{{labels}}} 2"),
            format!("pulsar_bridge_failed_attempts_total{{{labels}}} 1"),
            format!("pulsar_bridge_dead_lettered_total{{{labels}}} 0"),
            format!("pulsar_bridge_retries_scheduled_total{{{labels}}} 0"),
            format!("pulsar_bridge_internal_errors_total{{{labels}}} 0"),
            "# TYPE pulsar_bridge_in_flight gauge".to_owned(),
            format!("pulsar_bridge_in_flight{{{labels}}} 3"),
            format!("pulsar_bridge_pushing{{{labels}}} 0"),
            format!("pulsar_bridge_connected{{{labels}}} 0"),
            format!("pulsar_bridge_dead_letter_backlog{{{labels}}} -1"),
            format!("pulsar_bridge_retrying{{{labels}}} 0"),
            format!("pulsar_bridge_oldest_retry_age_seconds{{{labels}}} 0.0"),
            "# TYPE pulsar_bridge_push_duration_seconds histogram".to_owned(),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"0.0025\"}} 0"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"0.05\"}} 2"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"1\"}} 2"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"300\"}} 2"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 2"),
            format!("pulsar_bridge_push_duration_seconds_count{{{labels}}} 2"),
            "# TYPE pulsar_bridge_delivery_latency_seconds histogram".to_owned(),
            format!("pulsar_bridge_delivery_latency_seconds_count{{{labels}}} 0"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let sum = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "pulsar_bridge_push_duration_seconds_sum{{{labels}}} "
                ))
            })
            .expect("a sum");
        assert!((sum.parse::<f64>().unwrap() - 0.033).abs() < 1e-9, "{sum}");
        // Every family is declared once, every line is a comment or a sample.
        assert_eq!(text.matches("# TYPE ").count(), 13, "{text}");
        assert!(
            !text.contains("# EOF"),
            "the 0.0.4 text format has no EOF marker"
        );
    }
}
