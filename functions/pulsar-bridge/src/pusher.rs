//! One push: `POST` of the envelope to the route's endpoint with its token, and what the
//! answer means for the message.

use std::{collections::HashMap, fmt, time::Duration};

use chrono::{DateTime, Utc};
use reqwest::{
    StatusCode,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER},
};

use crate::{
    auth::{AuthError, TokenSource},
    config::{Backoff, RouteConfig},
};

/// How much of an error response's body is kept for the logs and the dead letter.
const BODY_EXCERPT: usize = 200;
/// A response body is read (so the connection can be reused) up to this size.
const BODY_READ_LIMIT: usize = 64 * 1024;

/// Why a push attempt failed. Every variant counts as a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushFailure {
    /// The endpoint answered with a status other than 2xx.
    Status {
        status: StatusCode,
        /// `Retry-After` of a 429 or 503, already converted to a wait.
        retry_after: Option<Duration>,
        body: String,
    },
    /// No answer within the route's timeout.
    Timeout(Duration),
    /// No connection, or the connection broke.
    Connection(String),
}

impl PushFailure {
    /// The wait before the next attempt after the `failed_attempt`-th: the jittered
    /// backoff, but at least the endpoint's `Retry-After` when it sent one; at most the
    /// maximum backoff either way. `Retry-After` is a floor, not a replacement: the
    /// functions answer every 503 with `Retry-After: 5`, which would otherwise spend 100
    /// attempts in about 8 minutes of a database outage.
    pub fn retry_delay(&self, backoff: &Backoff, failed_attempt: u32) -> Duration {
        let wait = backoff.jittered(failed_attempt);
        match self {
            PushFailure::Status {
                retry_after: Some(asked),
                ..
            } => wait.max(*asked).min(backoff.max),
            _ => wait,
        }
    }
}

impl PushFailure {
    /// The endpoint could not read the envelope (HTTP 400): no later attempt can succeed, so
    /// the message is dead-lettered at once.
    pub fn is_undecodable(&self) -> bool {
        matches!(self, PushFailure::Status { status, .. } if *status == StatusCode::BAD_REQUEST)
    }
}

impl fmt::Display for PushFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushFailure::Status { status, body, .. } if body.is_empty() => {
                write!(f, "HTTP {status}")
            }
            PushFailure::Status { status, body, .. } => write!(f, "HTTP {status}: {body}"),
            PushFailure::Timeout(limit) => write!(f, "timed out after {limit:?}"),
            PushFailure::Connection(error) => write!(f, "connection failed: {error}"),
        }
    }
}

/// A push that did not happen because the bridge had no token: not the function's fault,
/// not an attempt.
#[derive(Debug, thiserror::Error)]
#[error("no push token: {0}")]
pub struct NoToken(#[from] pub AuthError);

/// Sends push requests.
#[derive(Debug)]
pub struct Pusher {
    http: reqwest::Client,
    tokens: TokenSource,
}

impl Pusher {
    pub fn new(http: reqwest::Client, tokens: TokenSource) -> Self {
        Self { http, tokens }
    }

    /// The route's `Authorization` header value, if pushes carry one.
    pub async fn authorization(&self, route: &RouteConfig) -> Result<Option<String>, NoToken> {
        Ok(self.tokens.authorization(&route.audience).await?)
    }

    /// `POST`s `body` to the route's endpoint. `Ok` on a 2xx answer.
    pub async fn push(
        &self,
        route: &RouteConfig,
        authorization: Option<&str>,
        trace_context: &HashMap<String, String>,
        body: Vec<u8>,
    ) -> Result<(), PushFailure> {
        let mut request = self
            .http
            .post(route.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(route.timeout)
            .body(body);
        for (name, value) in trace_context {
            request = request.header(name, value);
        }
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let mut response = request
            .send()
            .await
            .map_err(|error| classify(error, route.timeout))?;
        let status = response.status();
        let retry_after = if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            retry_after(response.headers(), Utc::now())
        } else {
            None
        };
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() < BODY_READ_LIMIT => body.extend_from_slice(&chunk),
                Ok(Some(_)) => break,
                Ok(None) => break,
                // The status is known: a body that breaks off does not change the outcome.
                Err(error) if status.is_success() => {
                    tracing::debug!(%error, "push response body broke off");
                    break;
                }
                Err(error) => return Err(classify(error, route.timeout)),
            }
        }
        if status.is_success() {
            return Ok(());
        }
        Err(PushFailure::Status {
            status,
            retry_after,
            body: excerpt(&body),
        })
    }
}

fn classify(error: reqwest::Error, timeout: Duration) -> PushFailure {
    if error.is_timeout() {
        PushFailure::Timeout(timeout)
    } else {
        // The source chain says what actually happened (refused, reset, DNS, TLS).
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        PushFailure::Connection(text)
    }
}

/// The start of a response body, on one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(BODY_EXCERPT)
        .collect();
    if text.chars().count() > BODY_EXCERPT {
        excerpt.push('…');
    }
    excerpt.trim().to_owned()
}

/// `Retry-After` as a wait from `now`: delay-seconds or an HTTP date (IMF-fixdate, as RFC 9110
/// requires senders to use). A date in the past means no wait.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_seconds_or_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_delay_prefers_retry_after_within_the_maximum() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let status = |retry_after| PushFailure::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after,
            body: String::new(),
        };
        assert_eq!(
            status(Some(Duration::from_secs(7))).retry_delay(&backoff, 1),
            Duration::from_secs(7)
        );
        assert_eq!(
            status(Some(Duration::from_secs(3600))).retry_delay(&backoff, 1),
            Duration::from_secs(60)
        );
        // A Retry-After shorter than the backoff does not shorten it.
        let floor = status(Some(Duration::from_secs(1))).retry_delay(&backoff, 7);
        assert!(floor >= Duration::from_secs(30), "{floor:?}");
        let jittered = status(None).retry_delay(&backoff, 3);
        assert!(
            jittered >= Duration::from_secs(2) && jittered <= Duration::from_secs(4),
            "{jittered:?}"
        );
        let jittered = PushFailure::Timeout(Duration::from_secs(1)).retry_delay(&backoff, 2);
        assert!(
            jittered >= Duration::from_secs(1) && jittered <= Duration::from_secs(2),
            "{jittered:?}"
        );
    }

    #[test]
    fn failures_read_well() {
        let failure = PushFailure::Status {
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
            body: excerpt(b"{\"title\":\n\"bad envelope\"}"),
        };
        assert_eq!(
            failure.to_string(),
            "HTTP 400 Bad Request: {\"title\": \"bad envelope\"}"
        );
        assert_eq!(
            PushFailure::Timeout(Duration::from_millis(300)).to_string(),
            "timed out after 300ms"
        );
        assert_eq!(excerpt(&[b'x'; 300]).chars().count(), BODY_EXCERPT + 1);
    }
}
