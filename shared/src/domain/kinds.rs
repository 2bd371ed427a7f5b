//! The commercial vocabularies shared by campaigns, contracts and reports.

use super::wire_enum::wire_enum;

wire_enum! {
    /// How an influencer earns: per acquisition, lead or click.
    #[derive(Default)]
    pub enum CommissionType as "tipo_comision" {
        #[default]
        Cpa => "cpa",
        Cpl => "cpl",
        Cpc => "cpc",
    }
}

wire_enum! {
    /// The kind of engagement; only `exclusivo` carries a rule (one active per influencer).
    #[derive(Default)]
    pub enum ContractType as "tipo_contrato" {
        #[default]
        Puntual => "puntual",
        Temporal => "temporal",
        Exclusivo => "exclusivo",
        Colaboracion => "colaboracion",
    }
}

wire_enum! {
    /// What a report is about: a campaign we know, or a contract of a campaign we do not.
    pub enum ReportType as "tipo_reporte" {
        Campana => "campana",
        Contrato => "contrato",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_defaults() {
        assert_eq!(CommissionType::default(), CommissionType::Cpa);
        assert_eq!(ContractType::default(), ContractType::Puntual);
    }

    #[test]
    fn every_variant_round_trips_through_its_wire_spelling() {
        for kind in CommissionType::ALL {
            assert_eq!(kind.as_str().parse::<CommissionType>(), Ok(*kind));
        }
        for kind in ContractType::ALL {
            assert_eq!(kind.as_str().parse::<ContractType>(), Ok(*kind));
        }
        for kind in ReportType::ALL {
            assert_eq!(kind.as_str().parse::<ReportType>(), Ok(*kind));
        }
    }

    #[test]
    fn wire_spellings_are_the_spec_ones() {
        let spellings = |all: &[&str]| all.join(",");
        assert_eq!(
            spellings(
                &CommissionType::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            ),
            "cpa,cpl,cpc"
        );
        assert_eq!(
            spellings(
                &ContractType::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            ),
            "puntual,temporal,exclusivo,colaboracion"
        );
        assert_eq!(
            spellings(
                &ReportType::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            ),
            "campana,contrato"
        );
    }

    #[test]
    fn unknown_values_are_rejected_by_name() {
        let error = "mensual".parse::<ContractType>().unwrap_err();
        assert_eq!(error.value, "mensual");
        assert!("campaña".parse::<ReportType>().is_err());
        assert!("".parse::<CommissionType>().is_err());
    }
}
