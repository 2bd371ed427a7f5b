//! W3C trace context (`traceparent`, `tracestate`) across every hop of a saga: HTTP
//! headers, outbox rows, Pulsar message properties and Pub/Sub attributes all carry the
//! same two entries, so one saga is one trace. A carrier without them starts a new trace.
//!
//! The spans themselves are `tracing` spans; the OpenTelemetry layer installed by
//! [`crate::http::telemetry::init`] gives each one a trace and span id. Without that layer
//! (a unit test, a tool) nothing is injected and extraction yields an empty context.

use std::collections::{BTreeMap, HashMap};

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The carrier entries of W3C trace context, as headers, properties and attributes.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// Something holding text entries trace context can be read from or written to.
pub trait Carrier {
    fn entry(&self, name: &str) -> Option<&str>;
    fn set_entry(&mut self, name: &str, value: String);
}

impl Carrier for BTreeMap<String, String> {
    fn entry(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn set_entry(&mut self, name: &str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

impl Carrier for HashMap<String, String> {
    fn entry(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn set_entry(&mut self, name: &str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

impl Carrier for axum::http::HeaderMap {
    fn entry(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|value| value.to_str().ok())
    }
    fn set_entry(&mut self, name: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name),
            axum::http::HeaderValue::try_from(value),
        ) {
            self.insert(name, value);
        }
    }
}

struct Reading<'a, C: ?Sized>(&'a C);

impl<C: Carrier + ?Sized> Extractor for Reading<'_, C> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.entry(key)
    }
    fn keys(&self) -> Vec<&str> {
        [TRACEPARENT, TRACESTATE]
            .into_iter()
            .filter(|key| self.0.entry(key).is_some())
            .collect()
    }
}

struct Writing<'a, C: ?Sized>(&'a mut C);

impl<C: Carrier + ?Sized> Injector for Writing<'_, C> {
    fn set(&mut self, key: &str, value: String) {
        self.0.set_entry(key, value);
    }
}

/// The remote context `carrier` holds (empty when it holds none or an invalid one).
pub fn extract(carrier: &(impl Carrier + ?Sized)) -> Context {
    TraceContextPropagator::new().extract(&Reading(carrier))
}

/// Whether `carrier` holds a valid trace context.
pub fn present(carrier: &(impl Carrier + ?Sized)) -> bool {
    extract(carrier).span().span_context().is_valid()
}

/// Writes the context of `span` into `carrier` (nothing when the span has none).
pub fn inject(span: &tracing::Span, carrier: &mut (impl Carrier + ?Sized)) {
    let context = span.context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut Writing(carrier));
    }
}

/// Makes the remote context in `carrier` the parent of `span`, which must not have been
/// entered yet. A carrier without one leaves `span` a root: a new trace.
pub fn continue_from(span: &tracing::Span, carrier: &(impl Carrier + ?Sized)) {
    let parent = extract(carrier);
    if parent.span().span_context().is_valid() {
        // Only fails when the span is disabled or already started: it then stays a root.
        let _ = span.set_parent(parent);
    }
}

/// The trace id of `span` (32 hex digits), when it has one.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::prelude::*;

    use super::*;

    fn traced<T>(body: impl FnOnce() -> T) -> T {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, body)
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_carrier_with_traceparent_continues_its_trace() {
        traced(|| {
            let mut carrier = BTreeMap::new();
            carrier.insert(TRACEPARENT.to_owned(), PARENT.to_owned());
            let span = tracing::info_span!("event");
            continue_from(&span, &carrier);
            assert_eq!(
                trace_id(&span).as_deref(),
                Some("4bf92f3577b34da6a3ce929d0e0e4736")
            );
            let mut written = BTreeMap::new();
            inject(&span, &mut written);
            let traceparent = written.get(TRACEPARENT).expect("traceparent written");
            assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            // The span's own id, not its parent's.
            assert!(!traceparent.contains("00f067aa0ba902b7"), "{traceparent}");
        });
    }

    #[test]
    fn a_message_without_traceparent_starts_a_new_trace() {
        traced(|| {
            let carrier: BTreeMap<String, String> =
                [("event_id".to_owned(), "e-1".to_owned())].into();
            assert!(!present(&carrier));
            let first = tracing::info_span!("event");
            continue_from(&first, &carrier);
            let second = tracing::info_span!("event");
            continue_from(&second, &carrier);
            let (first, second) = (trace_id(&first), trace_id(&second));
            assert!(first.is_some() && second.is_some());
            assert_ne!(
                first, second,
                "each message without context is its own trace"
            );
            assert_ne!(first.as_deref(), Some("00000000000000000000000000000000"));
        });
    }

    #[test]
    fn an_invalid_traceparent_is_ignored() {
        traced(|| {
            let carrier: BTreeMap<String, String> =
                [(TRACEPARENT.to_owned(), "00-zz-yy-01".to_owned())].into();
            assert!(!present(&carrier));
            let span = tracing::info_span!("event");
            continue_from(&span, &carrier);
            assert!(trace_id(&span).is_some());
        });
    }

    #[test]
    fn without_the_layer_nothing_is_injected() {
        let span = tracing::info_span!("event");
        let mut carrier = BTreeMap::new();
        inject(&span, &mut carrier);
        assert!(carrier.is_empty());
    }
}
