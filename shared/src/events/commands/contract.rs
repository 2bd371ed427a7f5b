//! Contract commands.

use crate::{
    domain::{CampaignContractTerms, SignCampaignContract},
    events::CampanaCreadaPayload,
};

/// A campaign event that asks for no contract: nothing to do, and not a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the campaign names no influencer: no contract to send")]
pub struct NoContractAsked;

/// `EventoCampanaCreada` naming an influencer: the contract step of the saga. The terms
/// stay as sent: the domain names what is wrong with them, and a rejection echoes them.
impl TryFrom<&CampanaCreadaPayload> for SignCampaignContract {
    type Error = NoContractAsked;

    fn try_from(campaign: &CampanaCreadaPayload) -> Result<Self, Self::Error> {
        let influencer = given(campaign.influencer_id.as_deref()).ok_or(NoContractAsked)?;
        Ok(Self {
            pair: given(campaign.campana_id.as_deref())
                .map(|campaign| (campaign.to_owned(), influencer.to_owned())),
            terms: CampaignContractTerms {
                campaign_id: campaign.campana_id.clone(),
                influencer_id: campaign.influencer_id.clone(),
                base_amount: campaign.monto_base,
                commission_value: campaign.valor_comision,
                currency: campaign.moneda.clone(),
                contract_type: campaign.tipo_contrato.clone(),
                deliverables: campaign.entregables.clone(),
            },
        })
    }
}

/// A named value: trimmed, blank is absent.
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_asks_for_a_contract_only_when_it_names_an_influencer() {
        let mut campaign = CampanaCreadaPayload {
            campana_id: Some(" camp-1 ".into()),
            influencer_id: Some(" inf-1 ".into()),
            monto_base: Some(10.0),
            ..CampanaCreadaPayload::default()
        };
        let step = SignCampaignContract::try_from(&campaign).unwrap();
        assert_eq!(step.pair, Some(("camp-1".into(), "inf-1".into())));
        assert_eq!(
            step.terms.influencer_id.as_deref(),
            Some(" inf-1 "),
            "as sent"
        );
        assert_eq!(step.terms.base_amount, Some(10.0));
        campaign.campana_id = None;
        assert_eq!(
            SignCampaignContract::try_from(&campaign).unwrap().pair,
            None
        );
        for influencer in [None, Some("  ".to_owned())] {
            campaign.influencer_id = influencer;
            assert_eq!(
                SignCampaignContract::try_from(&campaign),
                Err(NoContractAsked)
            );
        }
    }
}
