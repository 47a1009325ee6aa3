"""Intake through HTTP with real tokens: event store, relay, Kafka, and the directory's consumer."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from shared.envelope import Role
from tests.integration.intake.conftest import (
    CONSENT_UNTIL,
    Agency,
    Network,
    add_staff,
    directory_post,
    eventually,
    make_agency,
    person,
    through_intake,
)
from tests.integration.kafka_reading import read_topic


async def open_registered_case(agency: Agency, details: dict[str, Any] | None = None) -> str:
    http, headers = agency.net.intake, agency.manager()
    opened = await http.post("/cases", json={"source": "outreach"}, headers=headers)
    case_id: str = opened.json()["case_id"]
    answer = await http.post(
        f"/cases/{case_id}/registration", json=details or person(), headers=headers
    )
    assert answer.status_code == 201, answer.text
    return case_id


async def consent(agency: Agency, case_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "agencies": [agency.agency_id],
        "purposes": ["case_management"],
        "valid_until": CONSENT_UNTIL,
        **changes,
    }
    answer = await agency.net.intake.post(
        f"/cases/{case_id}/consents", json=body, headers=agency.manager()
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_case_goes_through_intake_and_its_assignment_reaches_the_directory(
    network: Network, agency: Agency
) -> None:
    case_id, client_id = await through_intake(agency)

    view = await network.intake.get(f"/cases/{case_id}", headers=agency.manager())
    assert view.status_code == 200, view.text
    case = view.json()
    assert case["stage"] == "assigned" and case["client_id"] == client_id
    assert case["assignment"] == {
        "staff_id": agency.managers[0],
        "agency_id": agency.agency_id,
        "override": False,
    }
    assert await network.events_in(case_id) == [
        "CaseFound",
        "ClientRegistered",
        "ConsentRecorded",
        "CaseScreenedIn",
        "CaseAssessed",
        "CaseAssigned",
    ]

    # The relay published the case, in order, keyed by case id, as CloudEvents.
    mine = await eventually(
        lambda: read_topic(
            network.settings.kafka_bootstrap_servers, network.topics.intake, expect=1, timeout=1
        ),
        lambda got: sum(r.key == case_id.encode() for r in got) == 6,
        "six events of the case on the intake topic",
    )
    types = [dict(r.headers)["ce_type"] for r in mine if r.key == case_id.encode()]
    assert types[-1] == b"caseline.intake.CaseAssigned.v1"

    # The directory (another service) consumed the assignment: the manager carries one case.
    async def directory_staff() -> list[dict[str, Any]]:
        answer = await network.directory.get(
            "/staff", params={"agency_id": agency.agency_id}, headers=agency.manager()
        )
        staff: list[dict[str, Any]] = answer.json()
        return staff

    staff = await eventually(
        directory_staff,
        lambda rows: any(r["staff_id"] == agency.managers[0] and r["caseload"] == 1 for r in rows),
        "the assignment counted in the directory's caseloads",
    )
    assert staff
    board = await agency.caseloads()
    [load] = [s for s in board["staff"] if s["staff_id"] == agency.managers[0]]
    assert (load["caseload"], load["caseload_limit"], load["room"]) == (1, 3, 2)


async def test_r1_a_command_out_of_order_is_refused_with_the_rule_and_writes_nothing(
    network: Network, agency: Agency
) -> None:
    http, headers = network.intake, agency.manager()
    case_id = (await http.post("/cases", json={"source": "walk_in"}, headers=headers)).json()[
        "case_id"
    ]
    refused = await http.post(
        f"/cases/{case_id}/screening",
        json={"outcome": "eligible", "presenting_problems": ["housing", "income"]},
        headers=headers,
    )
    assert refused.status_code == 409
    assert refused.json()["rule"] == "R1"
    assert "register the client" in refused.json()["detail"]
    assigned = await http.post(
        f"/cases/{case_id}/assignment", json={"staff_id": agency.managers[0]}, headers=headers
    )
    assert assigned.status_code == 409 and assigned.json()["rule"] == "R1"
    assert await network.events_in(case_id) == ["CaseFound"]


async def test_r4_screening_waits_for_consent_and_a_withdrawn_consent_allows_nothing(
    network: Network, agency: Agency
) -> None:
    http, headers = network.intake, agency.manager()
    case_id = await open_registered_case(agency)
    screening = {"outcome": "eligible", "presenting_problems": ["housing", "income"]}
    refused = await http.post(f"/cases/{case_id}/screening", json=screening, headers=headers)
    assert refused.status_code == 409 and refused.json()["rule"] == "R4"

    partner = (await make_agency(network, {})).agency_id
    given = await consent(agency, case_id, agencies=[agency.agency_id, partner])
    check = {"agency_id": partner, "purpose": "case_management"}
    allowed = await http.get(f"/cases/{case_id}/consent-check", params=check, headers=headers)
    assert allowed.json()["allowed"] is True
    other = {"agency_id": "ag-stranger", "purpose": "case_management"}
    assert (
        await http.get(f"/cases/{case_id}/consent-check", params=other, headers=headers)
    ).json()["allowed"] is False

    withdrawn = await http.post(
        f"/cases/{case_id}/consents/{given['consent_id']}/withdrawal", headers=headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (
        await http.get(f"/cases/{case_id}/consent-check", params=check, headers=headers)
    ).json()["allowed"] is False
    again = await http.post(f"/cases/{case_id}/screening", json=screening, headers=headers)
    assert again.status_code == 409 and again.json()["rule"] == "R4"
    assert await network.events_in(case_id) == [
        "CaseFound",
        "ClientRegistered",
        "ConsentRecorded",
        "ConsentWithdrawn",
    ]


async def test_r2_screening_out_needs_a_reason_and_an_information_and_referral(
    network: Network, agency: Agency
) -> None:
    http, headers = network.intake, agency.manager()
    case_id = await open_registered_case(agency)
    await consent(agency, case_id)
    bare = await http.post(
        f"/cases/{case_id}/screening",
        json={"outcome": "screened_out", "presenting_problems": ["food"]},
        headers=headers,
    )
    assert bare.status_code == 422
    missing = {tuple(e["loc"]) for e in bare.json()["detail"]}
    assert missing == {
        ("body", "screened_out", "reason"),
        ("body", "screened_out", "information_and_referral"),
    }
    single = await http.post(
        f"/cases/{case_id}/screening",
        json={"outcome": "eligible", "presenting_problems": ["food"]},
        headers=headers,
    )
    assert single.status_code == 409 and single.json()["rule"] == "R2"
    screened_out = await http.post(
        f"/cases/{case_id}/screening",
        json={
            "outcome": "screened_out",
            "presenting_problems": ["food"],
            "reason": "single_simple_need",
            "information_and_referral": {
                "kind": "referred_to_service",
                "domains": ["food"],
                "referred_agency_id": "ag-foodbank",
            },
        },
        headers=headers,
    )
    assert screened_out.status_code == 200, screened_out.text
    assert screened_out.json()["stage"] == "screened_out"
    view = (await http.get(f"/cases/{case_id}", headers=headers)).json()
    assert view["screen_out_reason"] == "single_simple_need"
    assert view["information_and_referral"]["referred_agency_id"] == "ag-foodbank"


async def test_bad_input_gets_field_level_422s_that_never_echo_personal_data(
    network: Network, agency: Agency
) -> None:
    http, headers = network.intake, agency.manager()
    case_id = (await http.post("/cases", json={"source": "walk_in"}, headers=headers)).json()[
        "case_id"
    ]
    bad = person("Echo Test")
    bad["resident_number"] = bad["resident_number"][:-1] + str(
        (int(bad["resident_number"][-1]) + 1) % 10
    )
    bad["phone"] = "call me maybe"
    refused = await http.post(f"/cases/{case_id}/registration", json=bad, headers=headers)
    assert refused.status_code == 422
    fields = {tuple(e["loc"]) for e in refused.json()["detail"]}
    assert fields == {("body", "resident_number"), ("body", "phone")}
    assert "check digit" in refused.text
    for secret in (bad["resident_number"], bad["name"], "call me maybe", "성미산로"):
        assert secret not in refused.text
    mismatched = person("Mismatch")
    mismatched["birth_date"] = "1961-05-18"
    answer = await http.post(f"/cases/{case_id}/registration", json=mismatched, headers=headers)
    assert answer.status_code == 422 and "does not encode" in answer.text
    vault_before = await network.vault_rows()
    assert await network.events_in(case_id) == ["CaseFound"]
    unknown = await http.post(
        "/cases", json={"source": "inbound_referral", "referring_case_id": "c-1"}, headers=headers
    )
    assert unknown.status_code == 422 and "referring agency" in unknown.text
    assert await network.vault_rows() == vault_before


async def test_r12_a_possible_duplicate_is_flagged_before_a_second_record_is_made(
    network: Network, agency: Agency
) -> None:
    http, headers = network.intake, agency.manager()
    first = person("Duplicate Check", born=date(1949, 11, 3), serial="134567")
    first_case = await open_registered_case(agency, first)
    first_client = (await http.get(f"/cases/{first_case}", headers=headers)).json()["client_id"]

    second_case = (await http.post("/cases", json={"source": "walk_in"}, headers=headers)).json()[
        "case_id"
    ]
    # The same person typed differently: case and spacing do not hide a duplicate.
    again = {**first, "name": first["name"].upper().replace(" ", "  ")}
    vault_before = await network.vault_rows()
    flagged = await http.post(f"/cases/{second_case}/registration", json=again, headers=headers)
    assert flagged.status_code == 409, flagged.text
    assert flagged.json()["possible_duplicates"] == [first_client]
    assert flagged.json()["rule"] == "R12"
    assert await network.vault_rows() == vault_before
    assert await network.events_in(second_case) == ["CaseFound"]

    # Linking the known client needs their name and birth date, not just the id.
    wrong = await http.post(
        f"/cases/{second_case}/returning-client",
        json={"client_id": first_client, "name": "Someone Else", "birth_date": "1949-11-03"},
        headers=headers,
    )
    assert wrong.status_code == 409
    linked = await http.post(
        f"/cases/{second_case}/returning-client",
        json={"client_id": first_client, "name": again["name"], "birth_date": "1949-11-03"},
        headers=headers,
    )
    assert linked.status_code == 201, linked.text
    assert await network.vault_rows() == vault_before

    # A different person with the same name and birth date: staff confirm, and it is recorded.
    third_case = (await http.post("/cases", json={"source": "walk_in"}, headers=headers)).json()[
        "case_id"
    ]
    namesake = person(born=date(1949, 11, 3), serial="134999")["resident_number"]
    confirmed = await http.post(
        f"/cases/{third_case}/registration",
        json={**first, "resident_number": namesake, "confirm_new_client": True},
        headers=headers,
    )
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["client_id"] != first_client
    assert await network.events_in(third_case) == [
        "CaseFound",
        "PossibleDuplicateAcknowledged",
        "ClientRegistered",
    ]


async def test_r12_past_the_limit_only_by_a_supervisors_override_and_overload_is_visible(
    network: Network, agency: Agency
) -> None:
    full = agency.managers[1]  # caseload limit 1
    await through_intake(agency, assign_to=full)
    # A second case for the manager with a limit of one.
    http = network.intake
    other_case, _ = await _assessed_case(agency)
    refused = await http.post(
        f"/cases/{other_case}/assignment",
        json={"staff_id": full, "override_reason": "temporary_cover"},
        headers=agency.manager(),
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "R12"
    assert "only a supervisor" in refused.json()["detail"]
    no_reason = await http.post(
        f"/cases/{other_case}/assignment", json={"staff_id": full}, headers=agency.supervisor_auth()
    )
    assert no_reason.status_code == 409 and "needs a reason" in no_reason.json()["detail"]
    overridden = await http.post(
        f"/cases/{other_case}/assignment",
        json={"staff_id": full, "override_reason": "crisis_no_one_else_available"},
        headers=agency.supervisor_auth(),
    )
    assert overridden.status_code == 200, overridden.text
    board = await agency.caseloads()
    [load] = [s for s in board["staff"] if s["staff_id"] == full]
    assert (load["caseload"], load["caseload_limit"], load["overloaded"]) == (2, 1, True)
    assert board["overloaded"] == [full]
    assert full in board["without_room"]
    view = (await http.get(f"/cases/{other_case}", headers=agency.manager())).json()
    assert view["assignment"]["override"] is True

    # Reassignment to a manager with room moves the case and its count.
    moved = await http.post(
        f"/cases/{other_case}/reassignment",
        json={"to_staff_id": agency.managers[0], "reason": "caseload_balancing"},
        headers=agency.supervisor_auth(),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["recorded"] == ["CaseReassigned"]
    board = await agency.caseloads()
    assert board["overloaded"] == []


async def _assessed_case(agency: Agency) -> tuple[str, str]:
    """A case taken up to assessment, not yet assigned."""
    http, headers = agency.net.intake, agency.manager()
    case_id = await open_registered_case(agency)
    await consent(agency, case_id)
    for step, body in (
        (
            "screening",
            {"outcome": "eligible", "presenting_problems": ["mental_health"], "chronic": True},
        ),
        (
            "assessment",
            {
                "needs": [{"domain": "mental_health", "severity": "high"}],
                "interpreter_needed": True,
            },
        ),
    ):
        answer = await http.post(f"/cases/{case_id}/{step}", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
    return case_id, (await http.get(f"/cases/{case_id}", headers=headers)).json()["client_id"]


async def test_r12_a_departed_manager_takes_no_new_case(network: Network) -> None:
    agency = await make_agency(network, {"stayer": 5, "leaver": 5})
    leaver = agency.managers[1]
    await directory_post(
        network,
        f"/agencies/{agency.agency_id}/staff/{leaver}/depart",
        {"departed_on": "2026-01-31", "reason": "moved to another city"},
        expect=200,
    )
    await eventually(
        agency.caseloads,
        lambda board: any(s["staff_id"] == leaver and not s["active"] for s in board["staff"]),
        "the departure on intake's roster",
    )
    case_id, _ = await _assessed_case(agency)
    refused = await network.intake.post(
        f"/cases/{case_id}/assignment",
        json={"staff_id": leaver, "override_reason": "continuity_with_the_client"},
        headers=agency.supervisor_auth(),
    )
    assert refused.status_code == 409 and "has left" in refused.json()["detail"]
    unknown = await network.intake.post(
        f"/cases/{case_id}/assignment", json={"staff_id": "nobody"}, headers=agency.manager()
    )
    assert unknown.status_code == 404


async def test_concurrent_conflicting_commands_on_one_case_one_wins_the_other_gets_409(
    network: Network, agency: Agency
) -> None:
    case_id, _ = await _assessed_case(agency)
    answers = await asyncio.gather(
        *(
            network.intake.post(
                f"/cases/{case_id}/assignment", json={"staff_id": staff}, headers=agency.manager()
            )
            for staff in agency.managers
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert (await network.events_in(case_id)).count("CaseAssigned") == 1

    # Two registrations racing on one case: one client record, not two.
    http, headers = network.intake, agency.manager()
    racing = (await http.post("/cases", json={"source": "walk_in"}, headers=headers)).json()[
        "case_id"
    ]
    vault_before = await network.vault_rows()
    registrations = await asyncio.gather(
        *(
            http.post(f"/cases/{racing}/registration", json=person(tag), headers=headers)
            for tag in ("Racer One", "Racer Two")
        )
    )
    assert sorted(a.status_code for a in registrations) == [201, 409]
    assert await network.vault_rows() == vault_before + 1


async def test_other_agencies_cannot_touch_a_case_or_read_its_client(
    network: Network, agency: Agency, elsewhere: Agency
) -> None:
    case_id, client_id = await through_intake(agency)
    stranger = elsewhere.manager()
    assert (await network.intake.get(f"/cases/{case_id}", headers=stranger)).status_code == 404
    assert (await network.intake.get(f"/clients/{client_id}", headers=stranger)).status_code == 404
    mine = await network.intake.get(f"/clients/{client_id}", headers=agency.manager())
    assert mine.status_code == 200
    assert mine.json()["resident_number_masked"].endswith("******")
    assert (await network.intake.get(f"/cases/{case_id}")).status_code == 401
    auditor = network.auditor()
    assert (await network.intake.get(f"/cases/{case_id}", headers=auditor)).status_code == 200
    assert (await network.intake.get(f"/clients/{client_id}", headers=auditor)).status_code == 403


async def test_only_case_workers_open_cases(network: Network, agency: Agency) -> None:
    agency_admin = await add_staff(network, agency.agency_id, Role.AGENCY_ADMIN)
    for headers in (network.auditor(), agency_admin):
        answer = await network.intake.post("/cases", json={"source": "walk_in"}, headers=headers)
        assert answer.status_code == 403, answer.text
