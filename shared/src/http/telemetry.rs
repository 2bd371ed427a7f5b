//! Logging and tracing, set up once per process.
//!
//! Logs: when stdout is not a terminal (Cloud Run), one JSON object per line in the shape
//! Cloud Logging reads: `severity`, `message`, `time`, the fields of the event and of its
//! spans (`request_id`, `correlation_id`, ...), and `logging.googleapis.com/trace` with
//! the span's trace id. In a terminal, readable text.
//!
//! Traces: every `tracing` span is also an OpenTelemetry span (W3C trace context, see
//! [`crate::trace_context`]), so trace ids flow through every hop whether or not they are
//! exported. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported with OTLP over
//! HTTP (protobuf) by a batch processor on its own thread: a bounded queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048) that drops spans when full, never blocking a
//! request. The other `OTEL_*` variables of the SDK apply (`OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_TRACES_SAMPLER`, ...). Without it nothing is exported.

use std::{fmt, io::IsTerminal, sync::OnceLock, time::Duration};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
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

/// The variable that turns span export on.
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The OpenTelemetry specification's switch that turns the SDK off.
pub const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The filter of the spans traced (`EnvFilter` syntax), apart from the logs' `RUST_LOG`.
pub const SPAN_FILTER: &str = "OTEL_SPAN_FILTER";
/// Bound on one export request to the collector.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber: logs, and spans as OpenTelemetry spans (exported when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set). `RUST_LOG` filters (default `info`). Calling it
/// twice is harmless: the second call keeps the first subscriber. Call it inside the
/// Tokio runtime (the exporter's requests run on it).
pub fn init(service: &'static str) {
    // Each layer has its own filter: quiet logs (`RUST_LOG=warn`) keep the spans a trace
    // is made of (`OTEL_SPAN_FILTER`, default `info`).
    let logs = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let spans = EnvFilter::try_from_env(SPAN_FILTER).unwrap_or_else(|_| EnvFilter::new("info"));
    let (provider, export_error) = tracer_provider(service);
    // `OTEL_SDK_DISABLED=true` (the SDK's standard switch): no OpenTelemetry layer at all,
    // no trace context made or carried (what the benchmark compares against).
    let disabled = std::env::var(SDK_DISABLED).is_ok_and(|value| value.trim() == "true");
    let otel = (!disabled).then(|| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_filter(spans)
    });
    let registry = tracing_subscriber::registry().with(otel);
    let result = if std::io::stdout().is_terminal() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_filter(logs()),
            )
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
                    })
                    .with_filter(logs()),
            )
            .try_init()
    };
    if result.is_ok() {
        let exporting = std::env::var(OTLP_ENDPOINT)
            .ok()
            .filter(|url| !url.is_empty());
        let _ = PROVIDER.set(provider);
        tracing::info!(
            service,
            otlp_endpoint = exporting.as_deref(),
            "telemetry ready"
        );
        if let Some(error) = export_error {
            tracing::error!(%error, "spans are not exported: the OTLP exporter cannot be built");
        }
    }
}

/// Exports the spans still queued (bounded by the export timeout). Call once, when the
/// process stops.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        tracing::debug!(%error, "span export at shutdown");
    }
}

fn tracer_provider(service: &'static str) -> (SdkTracerProvider, Option<String>) {
    let builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build());
    let endpoint = std::env::var(OTLP_ENDPOINT)
        .ok()
        .filter(|url| !url.is_empty());
    let Some(endpoint) = endpoint else {
        return (builder.build(), None);
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return (
            builder.build(),
            Some("not called inside a Tokio runtime".into()),
        );
    };
    // The endpoint is the collector's base URL, as the variable's specification says.
    let traces = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(TokioHttp {
            client: reqwest::Client::builder()
                .timeout(EXPORT_TIMEOUT)
                .build()
                .unwrap_or_default(),
            runtime,
        })
        .build();
    match exporter {
        Ok(exporter) => (builder.with_batch_exporter(exporter).build(), None),
        Err(error) => (builder.build(), Some(error.to_string())),
    }
}

/// The exporter's HTTP client: the process's `reqwest` (one TLS stack), its requests run
/// on the Tokio runtime while the batch processor's thread awaits them.
#[derive(Debug)]
struct TokioHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for TokioHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        self.runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let mut answer = Response::builder().status(response.status());
                if let Some(headers) = answer.headers_mut() {
                    *headers = response.headers().clone();
                }
                let body = response.bytes().await?;
                Ok::<_, HttpError>(answer.body(body)?)
            })
            .await?
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
