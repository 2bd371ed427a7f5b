//! Logging set up once per process. When stdout is not a terminal (Cloud Run), one JSON
//! object per line in the shape Cloud Logging reads: `severity`, `message`, `time`, the
//! fields of the event and of its spans (`request_id`, `correlation_id`, ...), and
//! `logging.googleapis.com/trace` when the request carried a trace. In a terminal,
//! readable text.

use std::{fmt, io::IsTerminal};

use serde_json::{Map, Value};
use tracing::{Event, Level, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::{JsonFields, Writer},
    },
    prelude::*,
    registry::LookupSpan,
};

/// Installs the global subscriber. `RUST_LOG` filters (default `info`). Calling it twice
/// is harmless: the second call keeps the first subscriber.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if std::io::stdout().is_terminal() {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(CloudLogging {
                        service,
                        project: std::env::var("GCP_PROJECT")
                            .or_else(|_| std::env::var("GOOGLE_CLOUD_PROJECT"))
                            .ok(),
                    }),
            )
            .try_init()
    };
    if result.is_ok() {
        tracing::info!(service, "telemetry ready");
    }
}

/// The span field holding a request's trace id (from `traceparent` or
/// `x-cloud-trace-context`), turned into `logging.googleapis.com/trace`.
pub const TRACE_FIELD: &str = "trace_id";

/// One JSON object per event, as Cloud Logging's structured logging reads it.
pub struct CloudLogging {
    service: &'static str,
    project: Option<String>,
}

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

impl<S, N> FormatEvent<S, N> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut entry = Map::new();
        entry.insert("severity".into(), severity(event.metadata().level()).into());
        entry.insert(
            "time".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        entry.insert("service".into(), self.service.into());
        entry.insert("target".into(), event.metadata().target().into());
        // Span fields, outermost first, so the innermost span wins on a name clash.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields)
                {
                    entry.extend(fields);
                }
            }
        }
        let mut visitor = JsonVisitor(&mut entry);
        event.record(&mut visitor);
        if let (Some(project), Some(Value::String(trace))) = (&self.project, entry.get(TRACE_FIELD))
        {
            let trace = format!("projects/{project}/traces/{trace}");
            entry.insert("logging.googleapis.com/trace".into(), trace.into());
        }
        let line = serde_json::to_string(&entry).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// The trace id of a request: W3C `traceparent` (`00-<32 hex>-<16 hex>-<flags>`) or
/// Google's `x-cloud-trace-context` (`<32 hex>/<span>;o=1`).
pub fn trace_id(traceparent: Option<&str>, cloud_trace_context: Option<&str>) -> Option<String> {
    let valid = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    traceparent
        .and_then(|header| header.split('-').nth(1))
        .filter(|id| valid(id))
        .or_else(|| {
            cloud_trace_context
                .and_then(|header| header.split('/').next())
                .filter(|id| valid(id))
        })
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn trace_ids_come_from_either_header() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(Some(&format!("00-{id}-00f067aa0ba902b7-01")), None).as_deref(),
            Some(id)
        );
        assert_eq!(
            trace_id(None, Some(&format!("{id}/1;o=1"))).as_deref(),
            Some(id)
        );
        assert_eq!(trace_id(Some("garbage"), Some("also/garbage")), None);
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_carry_severity_message_span_fields_and_the_trace() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(CloudLogging {
                    service: "register-influencer",
                    project: Some("alpes-prod".into()),
                })
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "r-1",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
            );
            let _entered = span.enter();
            tracing::warn!(correlation_id = "camp-1", "publish failed");
        });
        let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(output.trim()).unwrap();
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "publish failed");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["correlation_id"], "camp-1");
        assert_eq!(line["service"], "register-influencer");
        assert_eq!(
            line["logging.googleapis.com/trace"],
            "projects/alpes-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }
}
