use std::str::FromStr;

use chrono::{TimeDelta, TimeZone};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::domain::money::Currency;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 20, 10, 0, 0).unwrap()
}

fn later() -> DateTime<Utc> {
    now() + TimeDelta::seconds(5)
}

fn id(raw: &str) -> ExternalId {
    ExternalId::parse(raw).unwrap()
}

fn usd(raw: &str) -> Money {
    Money::new(Decimal::from_str(raw).unwrap(), Currency::USD).unwrap()
}

fn campaign_input() -> CampaignReportInput {
    CampaignReportInput {
        campaign_id: id("camp-67890"),
        campaign_name: Some("Lanzamiento otoño".into()),
        influencer_id: Some(id("inf-12345")),
        source_data: json!({"campana_id": "camp-67890", "nombre": "Lanzamiento otoño"}),
    }
}

fn contract_input() -> ContractReportInput {
    ContractReportInput {
        contract_id: id("ctr-1"),
        campaign_id: id("camp-unknown"),
        influencer_id: Some(id("inf-9")),
        total: usd("300"),
        source_data: json!({"id_contrato": "ctr-1"}),
    }
}

fn campaign_report() -> Report {
    Report::for_campaign(campaign_input(), Uuid::nil(), None, now())
}

fn rejection() -> CancellationReason {
    CancellationReason::from_contract_error(Some("ContratoRechazado"), Some("exclusividad"))
}

#[test]
fn given_campaign_event_when_reported_then_active_campaign_report() {
    let report = campaign_report();

    assert_eq!(report.id(), Uuid::nil());
    assert_eq!(report.report_type(), ReportType::Campana);
    assert_eq!(report.name(), "Reporte de campaña: Lanzamiento otoño");
    assert_eq!(report.state(), ReportState::Activo);
    assert_eq!(report.campaign_id().as_str(), "camp-67890");
    assert_eq!(report.influencer_id().unwrap().as_str(), "inf-12345");
    assert_eq!(report.contract(), None);
    assert_eq!(report.source_data()["nombre"], "Lanzamiento otoño");
    assert_eq!(report.cancellation_reason(), None);
    assert_eq!(report.created_at(), now());
    assert_eq!(report.updated_at(), now());
}

#[test]
fn given_campaign_without_name_when_reported_then_named_by_its_id() {
    for campaign_name in [None, Some(" \n ".to_owned())] {
        let input = CampaignReportInput {
            campaign_name,
            ..campaign_input()
        };

        let report = Report::for_campaign(input, Uuid::nil(), None, now());

        assert_eq!(report.name(), "Reporte de campaña: camp-67890");
    }
}

#[test]
fn given_campaign_name_with_line_breaks_when_reported_then_one_bounded_line() {
    let input = CampaignReportInput {
        campaign_name: Some(format!("Otoño\n{}", "x".repeat(400))),
        ..campaign_input()
    };

    let report = Report::for_campaign(input, Uuid::nil(), None, now());

    assert!(report.name().starts_with("Reporte de campaña: Otoño x"));
    assert!(!report.name().contains('\n'));
    assert_eq!(
        report.name().chars().count(),
        "Reporte de campaña: ".chars().count() + 300
    );
}

#[test]
fn given_pending_compensation_when_campaign_reported_then_created_cancelled_with_motivo() {
    let report = Report::for_campaign(campaign_input(), Uuid::nil(), Some(rejection()), now());

    assert_eq!(report.state(), ReportState::Cancelado);
    assert_eq!(
        report.cancellation_reason().unwrap().as_str(),
        "ContratoRechazado: exclusividad"
    );
}

#[test]
fn given_contract_of_unknown_campaign_when_reported_then_contract_report() {
    let report = Report::for_contract(contract_input(), Uuid::nil(), None, now());

    assert_eq!(report.report_type(), ReportType::Contrato);
    assert_eq!(report.name(), "Reporte de contrato: ctr-1");
    assert_eq!(report.state(), ReportState::Activo);
    assert_eq!(report.campaign_id().as_str(), "camp-unknown");
    assert_eq!(report.influencer_id().unwrap().as_str(), "inf-9");
    assert_eq!(
        report.contract(),
        Some(&AttachedContract {
            id: id("ctr-1"),
            total: usd("300")
        })
    );
    assert_eq!(report.source_data(), &json!({"id_contrato": "ctr-1"}));
}

#[test]
fn given_pending_compensation_when_contract_reported_then_created_cancelled() {
    let report = Report::for_contract(contract_input(), Uuid::nil(), Some(rejection()), now());

    assert_eq!(report.state(), ReportState::Cancelado);
    assert!(report.cancellation_reason().is_some());
}

#[test]
fn given_active_report_when_contract_attached_then_completed() {
    let mut report = campaign_report();

    let outcome = report.attach_contract(id("ctr-1"), usd("100"), later());

    assert_eq!(outcome, AttachOutcome::Completed);
    assert!(outcome.changed());
    assert_eq!(report.state(), ReportState::Completado);
    assert_eq!(report.contract().unwrap().id.as_str(), "ctr-1");
    assert_eq!(report.contract().unwrap().total, usd("100"));
    assert_eq!(report.updated_at(), later());
    assert_eq!(report.created_at(), now());
}

#[test]
fn given_completed_report_when_same_contract_redelivered_then_unchanged() {
    let mut report = campaign_report();
    let _ = report.attach_contract(id("ctr-1"), usd("100"), now());
    let before = report.clone();

    let outcome = report.attach_contract(id("ctr-1"), usd("100"), later());

    assert_eq!(outcome, AttachOutcome::AlreadyAttached);
    assert!(!outcome.changed());
    assert_eq!(report, before);
}

#[test]
fn given_completed_report_when_another_contract_arrives_then_first_is_kept() {
    let mut report = campaign_report();
    let _ = report.attach_contract(id("ctr-1"), usd("100"), now());
    let before = report.clone();

    let outcome = report.attach_contract(id("ctr-2"), usd("999"), later());

    assert_eq!(
        outcome,
        AttachOutcome::OtherContractKept {
            attached: id("ctr-1")
        }
    );
    assert_eq!(report, before);
}

#[test]
fn given_cancelled_report_when_contract_arrives_late_then_never_revives() {
    let mut report = campaign_report();
    let _ = report.cancel(rejection(), now());
    let before = report.clone();

    let outcome = report.attach_contract(id("ctr-1"), usd("100"), later());

    assert_eq!(outcome, AttachOutcome::ReportCancelled);
    assert!(!outcome.changed());
    assert_eq!(report, before);
    assert_eq!(report.state(), ReportState::Cancelado);
}

#[test]
fn given_report_created_cancelled_when_contract_arrives_then_stays_cancelled() {
    let mut report = Report::for_campaign(campaign_input(), Uuid::nil(), Some(rejection()), now());

    assert_eq!(
        report.attach_contract(id("ctr-1"), usd("100"), later()),
        AttachOutcome::ReportCancelled
    );
    assert_eq!(report.contract(), None);
}

#[test]
fn given_active_report_when_compensated_then_cancelled_with_motivo() {
    let mut report = campaign_report();

    let outcome = report.cancel(rejection(), later());

    assert_eq!(outcome, CancelOutcome::Cancelled);
    assert!(outcome.changed());
    assert_eq!(report.state(), ReportState::Cancelado);
    assert_eq!(report.cancellation_reason(), Some(&rejection()));
    assert_eq!(report.updated_at(), later());
}

#[test]
fn given_completed_report_when_compensated_then_cancelled_keeping_its_contract() {
    let mut report = campaign_report();
    let _ = report.attach_contract(id("ctr-1"), usd("100"), now());

    assert_eq!(
        report.cancel(rejection(), later()),
        CancelOutcome::Cancelled
    );
    assert_eq!(report.state(), ReportState::Cancelado);
    assert!(report.contract().is_some());
}

#[test]
fn given_cancelled_report_when_compensated_again_then_unchanged_keeping_first_motivo() {
    let mut report = campaign_report();
    let _ = report.cancel(rejection(), now());
    let before = report.clone();

    let outcome = report.cancel(CancellationReason::parse("otro motivo").unwrap(), later());

    assert_eq!(outcome, CancelOutcome::AlreadyCancelled);
    assert!(!outcome.changed());
    assert_eq!(report, before);
}

#[test]
fn given_rejection_before_or_after_report_then_same_end_state() {
    let mut report_first = campaign_report();
    let _ = report_first.cancel(rejection(), now());
    let _ = report_first.attach_contract(id("ctr-1"), usd("100"), later());

    let mut rejection_first =
        Report::for_campaign(campaign_input(), Uuid::nil(), Some(rejection()), now());
    let _ = rejection_first.attach_contract(id("ctr-1"), usd("100"), later());

    assert_eq!(report_first.state(), rejection_first.state());
    assert_eq!(
        report_first.cancellation_reason(),
        rejection_first.cancellation_reason()
    );
    assert_eq!(report_first.contract(), rejection_first.contract());
}

#[test]
fn given_record_when_restored_then_identical() {
    let mut report = campaign_report();
    let _ = report.attach_contract(id("ctr-1"), usd("100"), later());

    assert_eq!(Report::restore(report.clone().into_record()), report);
}

fn same_campaign_contract_input() -> ContractReportInput {
    ContractReportInput {
        campaign_id: id("camp-67890"),
        influencer_id: Some(id("inf-from-contract")),
        ..contract_input()
    }
}

/// A report as a reader compares it: everything but its id and instants, which each
/// delivery order mints for itself.
fn content(report: &Report) -> ReportRecord {
    ReportRecord {
        id: Uuid::nil(),
        created_at: now(),
        updated_at: now(),
        ..report.clone().into_record()
    }
}

#[test]
fn given_contract_report_when_its_campaign_arrives_then_it_becomes_the_completed_campaign_report() {
    let mut report = Report::for_contract(same_campaign_contract_input(), Uuid::nil(), None, now());

    let outcome = report.absorb_campaign(campaign_input(), later());

    assert_eq!(outcome, AbsorbOutcome::Absorbed);
    assert!(outcome.changed());
    assert_eq!(report.id(), Uuid::nil());
    assert_eq!(report.report_type(), ReportType::Campana);
    assert_eq!(report.name(), "Reporte de campaña: Lanzamiento otoño");
    assert_eq!(report.state(), ReportState::Completado);
    assert_eq!(report.influencer_id().unwrap().as_str(), "inf-12345");
    assert_eq!(report.contract().unwrap().id.as_str(), "ctr-1");
    assert_eq!(report.source_data(), &campaign_input().source_data);
    assert_eq!(report.created_at(), now());
    assert_eq!(report.updated_at(), later());
}

#[test]
fn given_campaign_and_contract_in_either_order_then_same_report() {
    let mut campaign_first = campaign_report();
    let contract = same_campaign_contract_input();
    assert!(
        campaign_first
            .attach_contract(contract.contract_id.clone(), contract.total, later())
            .changed()
    );

    let mut contract_first =
        Report::for_contract(same_campaign_contract_input(), Uuid::nil(), None, now());
    assert!(
        contract_first
            .absorb_campaign(campaign_input(), later())
            .changed()
    );

    assert_eq!(content(&campaign_first), content(&contract_first));
}

#[test]
fn given_campaign_report_when_campaign_arrives_again_then_first_is_kept() {
    let mut report = campaign_report();
    let before = report.clone();
    let renamed = CampaignReportInput {
        campaign_name: Some("Otro nombre".into()),
        ..campaign_input()
    };

    let outcome = report.absorb_campaign(renamed, later());

    assert_eq!(outcome, AbsorbOutcome::AlreadyCampaignReport);
    assert!(!outcome.changed());
    assert_eq!(report, before);
}

#[test]
fn given_cancelled_report_when_campaign_arrives_late_then_unchanged() {
    let mut compensated =
        Report::for_contract(same_campaign_contract_input(), Uuid::nil(), None, now());
    let _ = compensated.cancel(rejection(), now());
    let created_cancelled = Report::for_contract(
        same_campaign_contract_input(),
        Uuid::nil(),
        Some(rejection()),
        now(),
    );
    for mut report in [compensated, created_cancelled] {
        let before = report.clone();

        let outcome = report.absorb_campaign(campaign_input(), later());

        assert_eq!(outcome, AbsorbOutcome::ReportCancelled);
        assert_eq!(report, before);
        assert_eq!(report.state(), ReportState::Cancelado);
    }
}

#[test]
fn given_campaign_of_another_report_when_absorbed_then_unchanged() {
    let mut report = Report::for_contract(contract_input(), Uuid::nil(), None, now());
    let before = report.clone();

    let outcome = report.absorb_campaign(campaign_input(), later());

    assert_eq!(outcome, AbsorbOutcome::OtherCampaign);
    assert_eq!(report, before);
}

#[test]
fn given_nameless_campaign_when_absorbed_then_named_by_its_id() {
    let mut report = Report::for_contract(same_campaign_contract_input(), Uuid::nil(), None, now());
    let nameless = CampaignReportInput {
        campaign_name: None,
        influencer_id: None,
        ..campaign_input()
    };

    let _ = report.absorb_campaign(nameless, later());

    assert_eq!(report.name(), "Reporte de campaña: camp-67890");
    assert_eq!(
        report.influencer_id(),
        None,
        "the campaign's data wins, as in the other order"
    );
}
