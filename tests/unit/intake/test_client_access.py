"""R4, R11 across agencies: who may learn of a client, read them, and erase them. Pure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.intake.domain.access import (
    ClientFootprint,
    cases_to_erase,
    known_to,
    readable_by,
    sort_possible_duplicates,
)
from services.intake.domain.events import ConsentPurpose
from services.intake.domain.model import Consent
from shared.envelope import Role
from shared.errors import Forbidden, NotFound

A, B, C = "agency-a", "agency-b", "agency-c"
TODAY = date(2026, 3, 2)


def consent(
    agencies: tuple[str, ...],
    purposes: tuple[ConsentPurpose, ...],
    *,
    until: date = TODAY + timedelta(days=30),
    withdrawn_on: date | None = None,
) -> Consent:
    return Consent(
        consent_id="consent-1",
        agencies=agencies,
        purposes=purposes,
        valid_from=TODAY - timedelta(days=30),
        valid_until=until,
        withdrawn_on=withdrawn_on,
    )


def footprint(
    *agencies: str, consents: tuple[Consent, ...] = (), erased: bool = False
) -> ClientFootprint:
    return ClientFootprint(
        client_id="client-1",
        cases=tuple((f"case-{n}", agency) for n, agency in enumerate(agencies)),
        consents=consents,
        erased=erased,
    )


AT_A = footprint(A, consents=(consent((A,), (ConsentPurpose.CASE_MANAGEMENT,)),))


def test_r11_an_agency_knows_a_client_of_its_own_cases_and_no_other_without_consent() -> None:
    assert known_to(AT_A, A, TODAY)
    assert not known_to(AT_A, B, TODAY)
    assert not readable_by(AT_A, B, TODAY)
    assert not known_to(footprint(), A, TODAY)  # an id nobody holds


def test_r11_a_consent_in_force_naming_an_agency_lets_it_learn_of_the_client() -> None:
    for purpose in ConsentPurpose:
        named = footprint(A, consents=(consent((A, B), (purpose,)),))
        assert known_to(named, B, TODAY), purpose
        assert not known_to(named, C, TODAY), purpose


def test_r11_another_agency_reads_the_details_only_for_referral_or_record_transfer() -> None:
    readable = {
        purpose
        for purpose in ConsentPurpose
        if readable_by(footprint(A, consents=(consent((B,), (purpose,)),)), B, TODAY)
    }
    assert readable == {ConsentPurpose.REFERRAL, ConsentPurpose.RECORD_TRANSFER}
    assert readable_by(AT_A, A, TODAY)


def test_r4_a_withdrawn_expired_or_erased_clients_consent_reveals_nothing() -> None:
    referral = (ConsentPurpose.REFERRAL,)
    for gone in (
        footprint(A, consents=(consent((B,), referral, withdrawn_on=TODAY),)),
        footprint(A, consents=(consent((B,), referral, until=TODAY - timedelta(days=1)),)),
        footprint(A, consents=(consent((B,), referral),), erased=True),
    ):
        assert not known_to(gone, B, TODAY)
        assert not readable_by(gone, B, TODAY)
    # An erased client's own agency still knows them (its cases say so).
    assert known_to(footprint(A, erased=True), A, TODAY)
    # A consent withdrawn from a later day still holds until then.
    later = footprint(A, consents=(consent((B,), referral, withdrawn_on=TODAY + timedelta(1)),))
    assert readable_by(later, B, TODAY)


def test_r11_possible_duplicates_are_named_only_to_an_agency_that_knows_them() -> None:
    theirs = ClientFootprint(client_id="client-a", cases=(("case-a", A),))
    ours = ClientFootprint(client_id="client-b", cases=(("case-b", B),))
    consented = ClientFootprint(
        client_id="client-c",
        cases=(("case-c", C),),
        consents=(consent((B,), (ConsentPurpose.SERVICE_LINKING,)),),
    )
    found = sort_possible_duplicates([theirs, ours, consented], B, TODAY)
    assert found.shown == ("client-b", "client-c")
    assert found.for_network_review == ("client-a",)


def test_r11_an_agency_erases_a_client_held_by_it_alone_on_its_own_cases() -> None:
    for role in (Role.SUPERVISOR, Role.AGENCY_ADMIN):
        assert cases_to_erase(footprint(A, A), A, role, TODAY) == ("case-0", "case-1")
    with pytest.raises(Forbidden, match="supervisor or an agency administrator"):
        cases_to_erase(footprint(A), A, Role.CASE_MANAGER, TODAY)


def test_r11_a_client_held_by_several_agencies_is_erased_by_a_network_administrator_only() -> None:
    spread = footprint(A, B)
    for agency in (A, B):
        with pytest.raises(Forbidden, match="network administrator"):
            cases_to_erase(spread, agency, Role.SUPERVISOR, TODAY)
    assert cases_to_erase(spread, "network", Role.NETWORK_ADMIN, TODAY) == ("case-0", "case-1")


def test_r11_an_erasure_by_an_agency_that_does_not_know_the_client_answers_as_for_nobody() -> None:
    with pytest.raises(NotFound) as theirs:
        cases_to_erase(AT_A, B, Role.SUPERVISOR, TODAY)
    with pytest.raises(NotFound) as nobody:
        cases_to_erase(footprint(), B, Role.SUPERVISOR, TODAY)
    assert str(theirs.value) == str(nobody.value) == "no client 'client-1'"
    # Known by consent but holding no case: not theirs to erase.
    named = footprint(A, consents=(consent((B,), (ConsentPurpose.REFERRAL,)),))
    with pytest.raises(Forbidden, match="own agency's cases"):
        cases_to_erase(named, B, Role.SUPERVISOR, TODAY)
