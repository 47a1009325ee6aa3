"""The kit's read grants without I/O: a case in the agency, or a consent in force (R4, R11)."""

from __future__ import annotations

from datetime import date

from shared.grants import CASE_AGENCY, CONSENT, ERASED, NO_GRANT, ConsentGrant, read_access

TODAY = date(2025, 3, 1)


def grant(
    consent_id: str = "consent-1",
    agencies: tuple[str, ...] = ("agency-b",),
    purposes: tuple[str, ...] = ("referral",),
    withdrawn_on: date | None = None,
) -> ConsentGrant:
    return ConsentGrant(
        consent_id, agencies, purposes, date(2025, 1, 1), date(2025, 12, 31), withdrawn_on
    )


def test_r11_the_agency_holding_a_case_reads_on_that_basis() -> None:
    decision = read_access("agency-a", holding_agencies={"agency-a"}, grants=[], on=TODAY)
    assert decision.allowed and decision.basis == CASE_AGENCY and decision.consent_id is None


def test_r11_another_agency_reads_under_the_consent_that_names_it_and_the_log_says_which() -> None:
    decision = read_access(
        "agency-b",
        holding_agencies={"agency-a"},
        grants=[grant("consent-9", purposes=("record_transfer",)), grant("consent-2")],
        on=TODAY,
    )
    assert decision.allowed and decision.basis == CONSENT
    assert (decision.consent_id, decision.purpose) == ("consent-2", "referral")


def test_r4_no_consent_for_a_reading_purpose_withdrawn_or_expired_means_refused() -> None:
    for grants in (
        [],
        [grant(purposes=("case_management", "monitoring"))],
        [grant(agencies=("agency-c",))],
        [grant(withdrawn_on=date(2025, 2, 1))],
    ):
        decision = read_access("agency-b", holding_agencies={"agency-a"}, grants=grants, on=TODAY)
        assert not decision.allowed and decision.basis == NO_GRANT
    late = read_access("agency-b", holding_agencies=(), grants=[grant()], on=date(2026, 1, 1))
    assert not late.allowed


def test_r11_an_erased_clients_consents_allow_nothing_any_more() -> None:
    decision = read_access(
        "agency-b", holding_agencies={"agency-a"}, grants=[grant()], on=TODAY, erased=True
    )
    assert not decision.allowed and decision.basis == ERASED
