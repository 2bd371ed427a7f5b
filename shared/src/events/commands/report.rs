//! Report commands.

use super::InvalidPayload;
use crate::{
    domain::{CancellationReason, CompensateCampaign, ExternalId},
    events::ContratoErrorPayload,
};

/// `EventoContratoError`: the saga's failed contract step compensates its campaign.
impl TryFrom<&ContratoErrorPayload> for CompensateCampaign {
    type Error = InvalidPayload;

    fn try_from(error: &ContratoErrorPayload) -> Result<Self, Self::Error> {
        let campaign_id = error
            .id_campana
            .as_deref()
            .ok_or_else(|| InvalidPayload("id_campana is missing".into()))
            .and_then(|raw| {
                ExternalId::parse(raw)
                    .map_err(|invalid| InvalidPayload(format!("id_campana: {invalid}")))
            })?;
        Ok(Self {
            campaign_id,
            reason: CancellationReason::from_contract_error(
                error.error.as_deref(),
                error.error_detalle.as_deref(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
