//! Report commands: what a campaign or contract event asks of its campaign's report, and
//! the compensation a failed contract step asks for.

use serde::Serialize;
use serde_json::Value;

use super::InvalidPayload;
use crate::{
    domain::{
        CampaignReportInput, CancellationReason, CompensateCampaign, ContractReportInput, Currency,
        ExternalId, Money,
    },
    events::{CampanaCreadaPayload, ContratoCreadoPayload, ContratoErrorPayload},
};

/// `EventoCampanaCreada`: the campaign's report.
impl TryFrom<&CampanaCreadaPayload> for CampaignReportInput {
    type Error = InvalidPayload;

    fn try_from(campaign: &CampanaCreadaPayload) -> Result<Self, Self::Error> {
        Ok(Self {
            campaign_id: required_id("campana_id", campaign.campana_id.as_deref())?,
            campaign_name: campaign.nombre.clone(),
            influencer_id: optional_id(campaign.influencer_id.as_deref()),
            source_data: source_data(campaign)?,
        })
    }
}

/// `EventoContratoCreado`: the contract of the campaign's report. A blank or absent
/// `moneda` is the default currency.
impl TryFrom<&ContratoCreadoPayload> for ContractReportInput {
    type Error = InvalidPayload;

    fn try_from(contract: &ContratoCreadoPayload) -> Result<Self, Self::Error> {
        let currency = match contract.moneda.as_deref().map(str::trim) {
            None | Some("") => Currency::default(),
            Some(code) => {
                Currency::parse(code).map_err(|error| InvalidPayload(format!("moneda: {error}")))?
            }
        };
        let amount = contract
            .monto_total
            .ok_or_else(|| InvalidPayload("monto_total is missing".into()))?;
        let total = Money::from_wire_f32(amount, currency)
            .map_err(|error| InvalidPayload(format!("monto_total {amount}: {error}")))?;
        Ok(Self {
            contract_id: required_id("id_contrato", contract.id_contrato.as_deref())?,
            campaign_id: required_id("id_campana", contract.id_campana.as_deref())?,
            influencer_id: optional_id(contract.id_influencer.as_deref()),
            total,
            source_data: source_data(contract)?,
        })
    }
}

/// `EventoContratoError`: the saga's failed contract step compensates its campaign.
impl TryFrom<&ContratoErrorPayload> for CompensateCampaign {
    type Error = InvalidPayload;

    fn try_from(error: &ContratoErrorPayload) -> Result<Self, Self::Error> {
        Ok(Self {
            campaign_id: required_id("id_campana", error.id_campana.as_deref())?,
            reason: CancellationReason::from_contract_error(
                error.error.as_deref(),
                error.error_detalle.as_deref(),
            ),
        })
    }
}

fn required_id(field: &str, raw: Option<&str>) -> Result<ExternalId, InvalidPayload> {
    let raw = raw.ok_or_else(|| InvalidPayload(format!("{field} is missing")))?;
    ExternalId::parse(raw).map_err(|error| InvalidPayload(format!("{field}: {error}")))
}

/// An optional reference from another producer: one we cannot store is left out rather
/// than losing the whole report.
fn optional_id(raw: Option<&str>) -> Option<ExternalId> {
    let raw = raw.map(str::trim).filter(|raw| !raw.is_empty())?;
    ExternalId::parse(raw)
        .inspect_err(|error| tracing::warn!(%error, "an unusable influencer id is left out"))
        .ok()
}

/// `datos_origen`: the event's fields as JSON. Wire floats are written as their
/// shortest text (`19.99`, not the `19.989999771118164` the `f32` widens to).
fn source_data(payload: &impl Serialize) -> Result<Value, InvalidPayload> {
    let mut data = serde_json::to_value(payload)
        .map_err(|error| InvalidPayload(format!("unreadable payload: {error}")))?;
    if let Value::Object(fields) = &mut data {
        for value in fields.values_mut() {
            if let Some(wide) = value
                .as_f64()
                .filter(|_| !value.is_i64() && !value.is_u64())
            {
                // These payloads' only fractional numbers are `f32` fields: exact here.
                #[allow(clippy::cast_possible_truncation)]
                let written = (wide as f32).to_string();
                if let Some(number) = written
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    *value = Value::Number(number);
                }
            }
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> ContratoCreadoPayload {
        ContratoCreadoPayload {
            id_contrato: Some("ctr-1".into()),
            id_campana: Some("camp-1".into()),
            id_influencer: Some(" ".into()),
            monto_total: Some(19.99),
            ..ContratoCreadoPayload::default()
        }
    }

    #[test]
    fn a_contract_keeps_its_amount_exact_and_its_fields_as_sent() {
        let input = ContractReportInput::try_from(&contract()).unwrap();
        assert_eq!(input.total.amount().to_string(), "19.99");
        assert_eq!(input.total.currency(), Currency::default());
        assert_eq!(input.influencer_id, None, "a blank reference is left out");
        assert_eq!(input.source_data["monto_total"], serde_json::json!(19.99));
    }

    #[test]
    fn a_contract_without_amount_or_with_a_bad_currency_makes_no_command() {
        let no_amount = ContratoCreadoPayload {
            monto_total: None,
            ..contract()
        };
        let refused = ContractReportInput::try_from(&no_amount).unwrap_err();
        assert_eq!(refused.0, "monto_total is missing");
        let bad_currency = ContratoCreadoPayload {
            moneda: Some("dólares".into()),
            ..contract()
        };
        let refused = ContractReportInput::try_from(&bad_currency).unwrap_err();
        assert!(refused.0.starts_with("moneda: "), "{refused}");
    }

    #[test]
    fn a_campaign_needs_its_id() {
        let refused = CampaignReportInput::try_from(&CampanaCreadaPayload::default()).unwrap_err();
        assert_eq!(refused.0, "campana_id is missing");
    }

    #[test]
    fn a_contract_error_compensates_the_campaign_it_names() {
        let mut error = ContratoErrorPayload {
            id_campana: Some("camp-1".into()),
            error: Some("ContratoRechazado".into()),
            error_detalle: Some("sin cupo".into()),
            ..ContratoErrorPayload::default()
        };
        let command = CompensateCampaign::try_from(&error).unwrap();
        assert_eq!(command.campaign_id.as_str(), "camp-1");
        assert_eq!(command.reason.as_str(), "ContratoRechazado: sin cupo");
        error.id_campana = None;
        let refused = CompensateCampaign::try_from(&error).unwrap_err();
        assert_eq!(refused.0, "id_campana is missing");
        error.id_campana = Some(" ".into());
        let refused = CompensateCampaign::try_from(&error).unwrap_err();
        assert!(refused.0.starts_with("id_campana: "), "{refused}");
    }
}
