//! Why a report was cancelled (`motivo`): the saga's compensation (SPEC section 7).

use std::fmt;

use serde::Serialize;

use super::error::InvalidValue;
use super::text::ExternalId;

/// The command to compensate a campaign whose contract step failed: cancel its report,
/// or remember the compensation until the report exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompensateCampaign {
    pub campaign_id: ExternalId,
    pub reason: CancellationReason,
}

/// The `motivo` of a cancelled report, 1..=2000 characters.
///
/// A pending compensation (SPEC section 7 item 3: the rejection arrived before the
/// report existed) is remembered by the store as one of these keyed by campaign, and
/// handed to [`super::Report::for_campaign`] / [`super::Report::for_contract`], which then
/// create the report directly `cancelado`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CancellationReason(String);

impl CancellationReason {
    pub const MAX_CHARS: usize = 2000;
    /// Used when a contract error event carries neither `error` nor `error_detalle`:
    /// the compensation must still happen, and must still say why.
    pub const UNSPECIFIED_CONTRACT_ERROR: &'static str = "EventoContratoError";

    /// A reason typed by a person (`POST /reportes/{id}/compensar`).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidValue::new("must not contain control characters"));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue::new("must be at most 2000 characters"));
        }
        Ok(Self(value.to_owned()))
    }

    /// `"{error}: {error_detalle}"` from an `EventoContratoError`.
    ///
    /// Never fails: a compensation must not be lost because the producer's text is
    /// odd. Missing parts are left out, control characters dropped, and the result cut
    /// to the maximum length.
    pub fn from_contract_error(error: Option<&str>, detail: Option<&str>) -> Self {
        let clean = |raw: Option<&str>| -> String {
            raw.unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .to_owned()
        };
        let (error, detail) = (clean(error), clean(detail));
        let reason = match (error.is_empty(), detail.is_empty()) {
            (false, false) => format!("{error}: {detail}"),
            (false, true) => error,
            (true, false) => detail,
            (true, true) => Self::UNSPECIFIED_CONTRACT_ERROR.to_owned(),
        };
        Self(reason.chars().take(Self::MAX_CHARS).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for CancellationReason {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CancellationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn contract_error_reason_is_error_colon_detail() {
        let reason = CancellationReason::from_contract_error(
            Some("ContratoRechazado"),
            Some("influencer inf-1 already holds an exclusive contract"),
        );

        assert_eq!(
            reason.as_str(),
            "ContratoRechazado: influencer inf-1 already holds an exclusive contract"
        );
    }

    #[test]
    fn contract_error_reason_tolerates_missing_parts() {
        let only_error = CancellationReason::from_contract_error(Some("ContratoRechazado"), None);
        let only_detail = CancellationReason::from_contract_error(Some(" "), Some("sin cupo"));
        let nothing = CancellationReason::from_contract_error(None, Some(""));

        assert_eq!(only_error.as_str(), "ContratoRechazado");
        assert_eq!(only_detail.as_str(), "sin cupo");
        assert_eq!(nothing.as_str(), "EventoContratoError");
    }

    #[test]
    fn contract_error_reason_is_bounded() {
        let reason = CancellationReason::from_contract_error(Some("E"), Some(&"x".repeat(5000)));

        assert_eq!(reason.as_str().chars().count(), 2000);
    }

    #[test]
    fn typed_reason_is_trimmed_and_required() {
        assert_eq!(
            CancellationReason::parse(" fraude ").unwrap().as_str(),
            "fraude"
        );
        assert!(CancellationReason::parse("  ").is_err());
        assert!(CancellationReason::parse(&"x".repeat(2001)).is_err());
        assert!(CancellationReason::parse("a\0b").is_err());
    }

    proptest! {
        #[test]
        fn any_contract_error_yields_a_valid_reason(
            error in proptest::option::of(any::<String>()),
            detail in proptest::option::of(any::<String>()),
        ) {
            let reason = CancellationReason::from_contract_error(error.as_deref(), detail.as_deref());
            prop_assert!(CancellationReason::parse(reason.as_str()).is_ok());
        }

        #[test]
        fn typed_reasons_never_panic(raw in any::<String>()) {
            let _ = CancellationReason::parse(&raw);
        }
    }
}
