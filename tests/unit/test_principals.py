"""Standing: who the kit lets act, judged from the members a service learned (no I/O)."""

from __future__ import annotations

from datetime import date

import pytest

from services.directory.domain.commands import (
    EnrollNetworkMember,
    RecordNetworkMemberLeaving,
    RegisterAgency,
)
from services.directory.domain.errors import ReservedId
from services.directory.domain.model import Agency, decide
from services.directory.domain.network import Network, decide_network, evolve_network
from shared.envelope import Role
from shared.principals import NETWORK, Member, refusal

TODAY = date(2026, 3, 2)


def member(**changes: object) -> Member:
    fields: dict[str, object] = {
        "agency_known": True,
        "agency_closed_on": None,
        "role": "case_manager",
        "joined_on": date(2024, 1, 2),
        "departed_on": None,
    }
    return Member(**{**fields, **changes})  # type: ignore[arg-type]


def test_an_active_member_with_the_registered_role_has_standing() -> None:
    assert refusal(member(), Role.CASE_MANAGER, TODAY) is None


def test_a_departure_or_closure_dated_ahead_is_not_yet_in_effect() -> None:
    assert refusal(member(departed_on=date(2026, 3, 3)), Role.CASE_MANAGER, TODAY) is None
    assert refusal(member(agency_closed_on=date(2026, 3, 3)), Role.CASE_MANAGER, TODAY) is None


@pytest.mark.parametrize(
    ("found", "role", "reason"),
    [
        (member(agency_known=False, role=None), Role.CASE_MANAGER, "not registered"),
        (member(agency_closed_on=TODAY), Role.CASE_MANAGER, "agency is closed"),
        (member(role=None, joined_on=None), Role.CASE_MANAGER, "not a registered member"),
        (member(departed_on=TODAY), Role.CASE_MANAGER, "has left"),
        (member(joined_on=date(2026, 4, 1)), Role.CASE_MANAGER, "has not joined"),
        (member(), Role.SUPERVISOR, "role is not the role"),
    ],
)
def test_a_principal_without_standing_is_told_why_without_naming_anyone(
    found: Member, role: Role, reason: str
) -> None:
    said = refusal(found, role, TODAY)
    assert said is not None and reason in said


def test_the_network_is_never_registered_as_an_agency() -> None:
    with pytest.raises(ReservedId):
        decide(
            Agency(),
            RegisterAgency(agency_id=NETWORK, name="N", region="Seoul", registered_on=TODAY),
        )


def test_enrolling_a_network_member_twice_records_once_and_a_left_id_is_never_reused() -> None:
    enroll = EnrollNetworkMember(
        staff_id="na-1", name="Admin", role="network_admin", enrolled_on=TODAY, today=TODAY
    )
    [enrolled] = decide_network(Network(), enroll)
    state = evolve_network(Network(), enrolled)
    assert decide_network(state, enroll) == []
    [left] = decide_network(
        state,
        RecordNetworkMemberLeaving(staff_id="na-1", left_on=TODAY, reason="moved", today=TODAY),
    )
    gone = evolve_network(state, left)
    with pytest.raises(Exception, match="never reused"):
        decide_network(gone, enroll)
