//! The lifecycles of the four aggregates, as explicit transition tables.
//!
//! Moving to the state an aggregate is already in is never an error but reports
//! [`Transition::Unchanged`]: events are redelivered, and a repeated command must be
//! answered the same way, without a second effect (no second event).

use super::error::DomainError;
use super::wire_enum::wire_enum;

/// What a state change did, so the caller knows whether there is an event to emit.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Changed,
    Unchanged,
}

impl Transition {
    pub fn changed(self) -> bool {
        self == Self::Changed
    }
}

/// A state enum with a transition table.
pub trait Lifecycle: Copy + Eq + 'static {
    /// The aggregate's name in error messages.
    const ENTITY: &'static str;

    fn wire(self) -> &'static str;

    /// Whether the table has an edge `self -> next` (for `self != next`).
    fn allows(self, next: Self) -> bool;

    fn is_terminal(self) -> bool;

    /// The error for a missing edge; a lifecycle with a stronger rule says so here.
    fn refusal(self, next: Self) -> DomainError {
        DomainError::TransitionNotAllowed {
            entity: Self::ENTITY,
            from: self.wire(),
            to: next.wire(),
        }
    }
}

/// Applies `next` to `state` if the table allows it.
pub(crate) fn advance<S: Lifecycle>(state: &mut S, next: S) -> Result<Transition, DomainError> {
    if *state == next {
        return Ok(Transition::Unchanged);
    }
    if !state.allows(next) {
        return Err(state.refusal(next));
    }
    *state = next;
    Ok(Transition::Changed)
}

macro_rules! lifecycle {
    ($name:ident, $entity:literal) => {
        impl Lifecycle for $name {
            const ENTITY: &'static str = $entity;

            fn wire(self) -> &'static str {
                self.as_str()
            }

            fn allows(self, next: Self) -> bool {
                self.successors().contains(&next)
            }

            fn is_terminal(self) -> bool {
                self.successors().is_empty()
            }
        }
    };
}

wire_enum! {
    /// An influencer's standing on the platform.
    #[derive(Default)]
    pub enum InfluencerState as "estado" {
        #[default]
        Pendiente => "pendiente",
        Activo => "activo",
        Inactivo => "inactivo",
        Suspendido => "suspendido",
    }
}

impl InfluencerState {
    /// `pendiente` is the review queue: it is left for good, to any standing (spec).
    /// Beyond the spec: `activo` and `suspendido` swap (a suspension is lifted or
    /// imposed), both can be retired to `inactivo`, and `inactivo` can be reactivated
    /// because leaving the platform is not forever. Nothing returns to review.
    pub const fn successors(self) -> &'static [Self] {
        use InfluencerState::*;
        match self {
            Pendiente => &[Activo, Inactivo, Suspendido],
            Activo => &[Suspendido, Inactivo],
            Suspendido => &[Activo, Inactivo],
            Inactivo => &[Activo],
        }
    }
}

lifecycle!(InfluencerState, "influencer");

wire_enum! {
    /// Where a campaign is in its life.
    #[derive(Default)]
    pub enum CampaignState as "estado" {
        Borrador => "borrador",
        #[default]
        Activa => "activa",
        Pausada => "pausada",
        Finalizada => "finalizada",
        Cancelada => "cancelada",
    }
}

impl CampaignState {
    /// A draft is published (`activa`) or dropped (`cancelada`); a running campaign
    /// pauses and resumes freely, and ends either as planned (`finalizada`) or not
    /// (`cancelada`). Both endings are terminal: a campaign that ran keeps its history,
    /// a new run is a new campaign. A draft cannot be "finished" because it never ran.
    pub const fn successors(self) -> &'static [Self] {
        use CampaignState::*;
        match self {
            Borrador => &[Activa, Cancelada],
            Activa => &[Pausada, Finalizada, Cancelada],
            Pausada => &[Activa, Finalizada, Cancelada],
            Finalizada | Cancelada => &[],
        }
    }
}

lifecycle!(CampaignState, "campaign");

wire_enum! {
    /// A contract is signed `activo` and ends once, one way or the other.
    #[derive(Default)]
    pub enum ContractState as "estado" {
        #[default]
        Activo => "activo",
        Cancelado => "cancelado",
        Completado => "completado",
    }
}

impl ContractState {
    pub const fn successors(self) -> &'static [Self] {
        use ContractState::*;
        match self {
            Activo => &[Cancelado, Completado],
            Cancelado | Completado => &[],
        }
    }
}

lifecycle!(ContractState, "contract");

wire_enum! {
    /// A report's progress: it completes when its contract arrives and is cancelled by
    /// the saga's compensation.
    #[derive(Default)]
    pub enum ReportState as "estado" {
        #[default]
        Activo => "activo",
        Completado => "completado",
        Cancelado => "cancelado",
    }
}

impl ReportState {
    pub const fn successors(self) -> &'static [Self] {
        use ReportState::*;
        match self {
            Activo => &[Completado, Cancelado],
            Completado => &[Cancelado],
            Cancelado => &[],
        }
    }
}

impl Lifecycle for ReportState {
    const ENTITY: &'static str = "report";

    fn wire(self) -> &'static str {
        self.as_str()
    }

    fn allows(self, next: Self) -> bool {
        self.successors().contains(&next)
    }

    fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }

    fn refusal(self, next: Self) -> DomainError {
        match self {
            ReportState::Cancelado => {
                DomainError::CancelledReportCannotRevive { to: next.as_str() }
            }
            _ => DomainError::TransitionNotAllowed {
                entity: Self::ENTITY,
                from: self.as_str(),
                to: next.as_str(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Checks every (from, to) pair against the expected edges, so an edge added to a
    /// table without updating its documentation fails a test.
    fn assert_table<S: Lifecycle + std::fmt::Debug + std::hash::Hash>(all: &[S], edges: &[(S, S)]) {
        let expected: HashSet<(S, S)> = edges.iter().copied().collect();
        for &from in all {
            for &to in all {
                let mut state = from;
                let outcome = advance(&mut state, to);
                if from == to {
                    assert_eq!(outcome, Ok(Transition::Unchanged), "{from:?} -> itself");
                    assert_eq!(state, from);
                } else if expected.contains(&(from, to)) {
                    assert_eq!(outcome, Ok(Transition::Changed), "{from:?} -> {to:?}");
                    assert_eq!(state, to);
                } else {
                    assert!(outcome.is_err(), "{from:?} -> {to:?} must be refused");
                    assert_eq!(state, from, "a refused transition changes nothing");
                }
            }
        }
    }

    #[test]
    fn influencer_transitions() {
        use InfluencerState::*;
        assert_table(
            InfluencerState::ALL,
            &[
                (Pendiente, Activo),
                (Pendiente, Inactivo),
                (Pendiente, Suspendido),
                (Activo, Suspendido),
                (Activo, Inactivo),
                (Suspendido, Activo),
                (Suspendido, Inactivo),
                (Inactivo, Activo),
            ],
        );
        assert_eq!(InfluencerState::default(), Pendiente);
        assert!(InfluencerState::ALL.iter().all(|s| !s.is_terminal()));
    }

    #[test]
    fn campaign_transitions() {
        use CampaignState::*;
        assert_table(
            CampaignState::ALL,
            &[
                (Borrador, Activa),
                (Borrador, Cancelada),
                (Activa, Pausada),
                (Activa, Finalizada),
                (Activa, Cancelada),
                (Pausada, Activa),
                (Pausada, Finalizada),
                (Pausada, Cancelada),
            ],
        );
        assert_eq!(CampaignState::default(), Activa);
        assert!(Finalizada.is_terminal() && Cancelada.is_terminal());
    }

    #[test]
    fn contract_transitions() {
        use ContractState::*;
        assert_table(
            ContractState::ALL,
            &[(Activo, Cancelado), (Activo, Completado)],
        );
        assert_eq!(ContractState::default(), Activo);
    }

    #[test]
    fn report_transitions() {
        use ReportState::*;
        assert_table(
            ReportState::ALL,
            &[
                (Activo, Completado),
                (Activo, Cancelado),
                (Completado, Cancelado),
            ],
        );
        assert_eq!(ReportState::default(), Activo);
        assert!(Cancelado.is_terminal());
    }

    #[test]
    fn a_cancelled_report_refuses_to_revive_with_its_own_error() {
        let mut state = ReportState::Cancelado;

        let error = advance(&mut state, ReportState::Completado).unwrap_err();

        assert_eq!(
            error,
            DomainError::CancelledReportCannotRevive { to: "completado" }
        );
    }

    #[test]
    fn refusals_name_entity_and_states() {
        let mut state = CampaignState::Finalizada;

        let error = advance(&mut state, CampaignState::Activa).unwrap_err();

        assert_eq!(
            error.to_string(),
            "campaign cannot go from finalizada to activa"
        );
    }

    #[test]
    fn wire_spellings_are_the_spec_ones() {
        let spell = |all: Vec<&str>| all.join(",");
        assert_eq!(
            spell(InfluencerState::ALL.iter().map(|s| s.as_str()).collect()),
            "pendiente,activo,inactivo,suspendido"
        );
        assert_eq!(
            spell(CampaignState::ALL.iter().map(|s| s.as_str()).collect()),
            "borrador,activa,pausada,finalizada,cancelada"
        );
        assert_eq!(
            spell(ContractState::ALL.iter().map(|s| s.as_str()).collect()),
            "activo,cancelado,completado"
        );
        assert_eq!(
            spell(ReportState::ALL.iter().map(|s| s.as_str()).collect()),
            "activo,completado,cancelado"
        );
        assert!("borrado".parse::<CampaignState>().is_err());
        assert_eq!("ACTIVA".parse::<CampaignState>(), Ok(CampaignState::Activa));
    }
}
