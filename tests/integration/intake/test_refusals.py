"""Intake refusing what it must not take or tell, through HTTP: nothing written, nothing leaked."""

from __future__ import annotations

from typing import Any

from shared.envelope import Role
from tests.integration.intake.conftest import Agency, Network, person, through_intake

NEVER_OPENED = "case-never-opened-anywhere"


async def test_another_agencys_case_answers_exactly_like_a_case_that_does_not_exist(
    network: Network, agency: Agency
) -> None:
    """R11: a case id must not confirm that a case, or its agency, exists elsewhere."""
    case_id, _ = await through_intake(agency)
    events_before = await network.events_in(case_id)
    stranger = network.auth(Role.CASE_MANAGER, "ag-elsewhere", "cm-stranger")
    bodies: dict[str, dict[str, Any]] = {
        "registration": person(),
        "consents": {
            "agencies": ["ag-elsewhere"],
            "purposes": ["case_management"],
            "valid_until": "2099-12-31",
        },
        "screening": {"outcome": "eligible", "presenting_problems": ["housing", "income"]},
        "assessment": {
            "needs": [{"domain": "housing", "severity": "high"}],
            "interpreter_needed": False,
        },
        "assignment": {"staff_id": "cm-stranger"},
        "reassignment": {"to_staff_id": "cm-stranger", "reason": "caseload_balancing"},
    }

    async def answers(case: str) -> list[tuple[int, Any]]:
        http = network.intake
        got = [
            await http.get(f"/cases/{case}", headers=stranger),
            await http.get(
                f"/cases/{case}/consent-check",
                params={"agency_id": "ag-elsewhere", "purpose": "referral"},
                headers=stranger,
            ),
            await http.post(f"/cases/{case}/consents/consent-1/withdrawal", headers=stranger),
        ]
        for step, body in bodies.items():
            got.append(await http.post(f"/cases/{case}/{step}", json=body, headers=stranger))
        got.append(
            await http.post("/cases", json={"case_id": case, "source": "walk_in"}, headers=stranger)
        )
        return [(a.status_code, a.json()) for a in got]

    unknown = await answers(NEVER_OPENED)
    theirs = await answers(case_id)
    # The opening of an id nobody holds succeeds; every other answer is the unknown one.
    assert unknown[-1][0] == 201
    assert [(s, body) for s, body in unknown[:-1]] == [
        (404, {"detail": f"no case {NEVER_OPENED!r}"})
    ] * (len(unknown) - 1)
    assert theirs == [(404, {"detail": f"no case {case_id!r}"})] * len(theirs)
    assert all(agency.agency_id not in str(body) for _, body in theirs)
    assert await network.events_in(case_id) == events_before
