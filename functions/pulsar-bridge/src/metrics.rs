//! Prometheus metrics in the text exposition format (version 0.0.4), hand-rolled: a few
//! atomic counters per route need no metrics framework.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};

/// Default of [`RouteMetrics::set_retry_horizon`].
const DEFAULT_RETRY_HORIZON: Duration = Duration::from_secs(600);

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A cumulative histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
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
    /// Messages acknowledged after a 2xx push.
    pub delivered: AtomicU64,
    /// Pushes answered with a non-2xx status, timed out or not connected.
    pub failed_attempts: AtomicU64,
    /// Messages published to the dead-letter topic (then acknowledged).
    pub dead_lettered: AtomicU64,
    /// Failed messages re-published to the retry topic (unordered routes).
    pub retries_scheduled: AtomicU64,
    /// Bridge-side failures that do not count as attempts (token, broker publish).
    pub internal_errors: AtomicU64,
    /// Messages taken from the broker and not yet settled (acknowledged or left to redelivery).
    pub in_flight: AtomicI64,
    /// Pushes whose HTTP request is under way.
    pub pushing: AtomicI64,
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
    pub dead_letter_backlog: AtomicI64,
    /// Messages this instance knows to be retrying: identity -> (first failure, when this
    /// instance last saw it fail).
    retrying: Mutex<HashMap<String, Retrying>>,
    /// How long an entry of `retrying` counts without failing again here (its retry copy
    /// may have gone to another instance), in milliseconds.
    retry_horizon_ms: AtomicU64,
}

impl RouteMetrics {
    pub fn new(route: String, topic: String, subscription: String) -> Self {
        Self {
            route,
            topic,
            subscription,
            delivered: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            retries_scheduled: AtomicU64::new(0),
            internal_errors: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            pushing: AtomicI64::new(0),
            subscribed: AtomicBool::new(false),
            broker_reachable: AtomicBool::new(false),
            push_duration: Histogram::default(),
            delivery_latency: Histogram::default(),
            dead_letter_backlog: AtomicI64::new(-1),
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

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every route's metrics, rendered by `GET /metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub routes: Vec<Arc<RouteMetrics>>,
}

/// Picks one histogram of a route.
type HistogramOf = fn(&RouteMetrics) -> &Histogram;

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&RouteMetrics) -> String,
}

const FAMILIES: [Family; 11] = [
    Family {
        name: "pulsar_bridge_delivered_total",
        kind: "counter",
        help: "Messages acknowledged after a 2xx push.",
        value: |m| m.delivered.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_failed_attempts_total",
        kind: "counter",
        help: "Push attempts answered with a non-2xx status, timed out or not connected.",
        value: |m| m.failed_attempts.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_dead_lettered_total",
        kind: "counter",
        help: "Messages published to the dead-letter topic after their last failed attempt.",
        value: |m| m.dead_lettered.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_retries_scheduled_total",
        kind: "counter",
        help: "Failed messages re-published to the retry topic with a delay.",
        value: |m| m.retries_scheduled.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_internal_errors_total",
        kind: "counter",
        help: "Bridge-side failures not counted as attempts (ID token, publish to the broker).",
        value: |m| m.internal_errors.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_in_flight",
        kind: "gauge",
        help: "Messages received from the broker and not settled yet.",
        value: |m| m.in_flight.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_pushing",
        kind: "gauge",
        help: "Push requests under way.",
        value: |m| m.pushing.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_connected",
        kind: "gauge",
        help: "1 when the route's consumers are subscribed and the broker answers.",
        value: |m| u8::from(m.is_connected()).to_string(),
    },
    Family {
        name: "pulsar_bridge_dead_letter_backlog",
        kind: "gauge",
        help: "Dead letters kept on the route's dead-letter topic (subscription dlq), from the admin API; -1 while unknown.",
        value: |m| m.dead_letter_backlog.load(Ordering::Relaxed).to_string(),
    },
    Family {
        name: "pulsar_bridge_retrying",
        kind: "gauge",
        help: "Messages this instance knows to be waiting for another attempt.",
        value: |m| m.retry_state(Utc::now()).0.to_string(),
    },
    Family {
        name: "pulsar_bridge_oldest_retry_age_seconds",
        kind: "gauge",
        help: "Time since the first failure of the oldest message still retrying (0 when none).",
        value: |m| format!("{:.3}", m.retry_state(Utc::now()).1.as_secs_f64()),
    },
];

impl Metrics {
    /// The Prometheus text exposition of every route.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let labels: Vec<String> = self.routes.iter().map(|route| labels(route)).collect();
        for family in &FAMILIES {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
            for (route, labels) in self.routes.iter().zip(&labels) {
                let _ = writeln!(out, "{}{{{labels}}} {}", family.name, (family.value)(route));
            }
        }
        let histograms: [(&str, &str, HistogramOf); 2] = [
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
        for (name, help, histogram) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (route, labels) in self.routes.iter().zip(&labels) {
                histogram(route).render(&mut out, name, labels);
            }
        }
        out
    }
}

fn labels(route: &RouteMetrics) -> String {
    format!(
        "route=\"{}\",topic=\"{}\",subscription=\"{}\"",
        escape(&route.route),
        escape(&route.topic),
        escape(&route.subscription)
    )
}

/// Label values escape backslash, double quote and line feed.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        RouteMetrics::add(&route.delivered);
        RouteMetrics::add(&route.delivered);
        RouteMetrics::add(&route.failed_attempts);
        route.in_flight.store(3, Ordering::Relaxed);
        route.push_duration.observe(Duration::from_millis(3));
        route.push_duration.observe(Duration::from_millis(30));
        let text = Metrics {
            routes: vec![route],
        }
        .render();
        let labels = r#"route="orders/billing",topic="persistent://public/default/orders",subscription="bil\"ling""#;
        for line in [
            "# TYPE pulsar_bridge_delivered_total counter".to_owned(),
            format!("pulsar_bridge_delivered_total{{{labels}}} 2"),
            format!("pulsar_bridge_failed_attempts_total{{{labels}}} 1"),
            format!("pulsar_bridge_dead_lettered_total{{{labels}}} 0"),
            format!("pulsar_bridge_in_flight{{{labels}}} 3"),
            format!("pulsar_bridge_connected{{{labels}}} 0"),
            format!("pulsar_bridge_dead_letter_backlog{{{labels}}} -1"),
            format!("pulsar_bridge_retrying{{{labels}}} 0"),
            format!("pulsar_bridge_oldest_retry_age_seconds{{{labels}}} 0.000"),
            "# TYPE pulsar_bridge_push_duration_seconds histogram".to_owned(),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"0.0025\"}} 0"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"0.05\"}} 2"),
            format!("pulsar_bridge_push_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 2"),
            format!("pulsar_bridge_push_duration_seconds_sum{{{labels}}} 0.033"),
            format!("pulsar_bridge_push_duration_seconds_count{{{labels}}} 2"),
            format!("pulsar_bridge_delivery_latency_seconds_count{{{labels}}} 0"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
