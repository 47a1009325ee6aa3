"""Projections across agencies on the real broker and database: a client's path through the
network (pseudonymous, R11), referral flows between agencies, what partner agencies see of
what was addressed to them, and managers over their caseload limit (R12)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.directory.contract import CaseloadLimitChanged, StaffJoined
from services.intake.contract import CaseAssigned, CaseFound, ClientRegistered
from shared.application import CommandContext
from shared.envelope import Actor, Role, registry
from shared.relay import Relay
from shared.store import EventStore
from tests.harness import eventually, unique, unique_schema
from tests.integration.careplan.intake_events import assigned_case
from tests.integration.projections.conftest import AGENCY, PARTNER, Projections
from tests.integration.projections.stories import referred_case

pytestmark = pytest.mark.infra


async def _get(app: Projections, path: str, staff_id: str) -> Any:
    return await app.served.http.get(path, headers=app.auth(staff_id))


async def _ok(app: Projections, path: str, staff_id: str) -> Any:
    answer = await _get(app, path, staff_id)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_r11_a_client_s_path_shows_other_agencies_cases_without_their_ids(
    projections: Projections,
) -> None:
    client = unique("client")
    north, south = unique("case-north"), unique("case-south")
    feed = projections.feed
    await feed.record(
        "intake", north, AGENCY, [CaseFound(source="walk_in"), ClientRegistered(client_id=client)]
    )
    await feed.record(
        "intake",
        south,
        PARTNER,
        [
            CaseFound(
                source="inbound_referral", referring_agency_id=AGENCY, referring_case_id=north
            ),
            ClientRegistered(client_id=client, returning_client=True),
        ],
    )
    path = f"/clients/{client}/journey"

    answer = await eventually(
        lambda: _get(projections, path, "auditor-1"),
        lambda a: a.status_code == 200 and len(a.json()["cases"]) == 2,
        "both cases of the client projected",
    )
    audited = answer.json()
    assert [(c["case_id"], c["agency_id"]) for c in audited["cases"]] == [
        (north, AGENCY),
        (south, PARTNER),
    ]
    seen_north = await _ok(projections, path, "cm-north")
    assert [c["case_id"] for c in seen_north["cases"]] == [north, None]
    assert seen_north["cases"][1]["agency_id"] == PARTNER
    seen_south = await _ok(projections, path, "sup-south")
    assert [c["case_id"] for c in seen_south["cases"]] == [None, south]
    assert north not in str(seen_south)

    unknown = await _get(projections, "/clients/client-nobody/journey", "cm-north")
    assert unknown.status_code == 404
    alone = unique("client")
    await feed.record("intake", unique("case-north"), AGENCY, [ClientRegistered(client_id=alone)])
    await eventually(
        lambda: _get(projections, f"/clients/{alone}/journey", "auditor-1"),
        lambda answer: answer.status_code == 200,
        "the lone client projected",
    )
    elsewhere = await _get(projections, f"/clients/{alone}/journey", "cm-south")
    assert elsewhere.status_code == 404
    assert elsewhere.text.replace(alone, "?") == unknown.text.replace("client-nobody", "?")


async def test_referral_flows_and_what_a_partner_agency_sees_addressed_to_it(
    projections: Projections,
) -> None:
    case_id, _ = await referred_case(projections)

    def completed(body: Any) -> bool:
        return any(
            (f["from_agency"], f["to_agency"], f["state"]) == (AGENCY, PARTNER, "completed")
            for f in body["flows"]
        )

    flows = await eventually(
        lambda: _ok(projections, "/network/referral-flows", "netadmin-1"),
        completed,
        "the completed referral counted",
    )
    assert all(set(f) == {"from_agency", "to_agency", "state", "referrals"} for f in flows["flows"])
    refused = await _get(projections, "/network/referral-flows", "sup-north")
    assert refused.status_code == 403

    inbox = await _ok(projections, f"/agencies/{PARTNER}/addressed", "cm-south")
    assert {(r["from_agency"], r["state"]) for r in inbox["referrals"]} >= {(AGENCY, "completed")}
    assert {(link["link_id"], link["state"]) for link in inbox["links"]} >= {
        ("link-1", "delivered")
    }
    assert case_id not in str(inbox)  # the referring case stays the referring agency's
    theirs = await _get(projections, f"/agencies/{PARTNER}/addressed", "cm-north")
    assert theirs.status_code == 404

    dashboard = await _ok(projections, f"/agencies/{AGENCY}/dashboard", "sup-north")
    assert any(
        f["to_agency"] == PARTNER and f["state"] == "completed" for f in dashboard["referral_flows"]
    )


async def test_r12_a_manager_over_the_limit_the_directory_gives_shows_as_overloaded(
    projections: Projections,
) -> None:
    manager = unique("cm-busy")
    directory = EventStore(
        projections.feed.pool, "directory", schema=unique_schema("proj_dir"), events=registry
    )
    await directory.migrate()
    context = CommandContext(agency_id=AGENCY, actor=Actor(staff_id="adm", role=Role.AGENCY_ADMIN))
    joined = StaffJoined(
        staff_id=manager,
        name="Kim Demo",
        role="case_manager",
        caseload_limit=2,
        joined_on=date(2026, 1, 5),
    )
    lowered = CaseloadLimitChanged(staff_id=manager, caseload_limit=1)
    await directory.append(AGENCY, 0, [context.envelope(AGENCY, e) for e in (joined, lowered)])
    await Relay(
        directory, projections.feed.producer, topic=projections.feed.topics.directory
    ).drain()
    for _ in range(2):
        events = assigned_case(AGENCY, manager)
        assert isinstance(events[-1], CaseAssigned)
        await projections.feed.record("intake", unique("case-north"), AGENCY, events)

    def loaded(body: Any) -> bool:
        return any(m["staff_id"] == manager and m["open_cases"] == 2 for m in body["managers"])

    dashboard = await eventually(
        lambda: _ok(projections, f"/agencies/{AGENCY}/dashboard", "sup-north"),
        loaded,
        "the manager's two cases and limit projected",
    )
    [load] = [m for m in dashboard["managers"] if m["staff_id"] == manager]
    assert load == {"staff_id": manager, "caseload_limit": 1, "open_cases": 2, "overloaded": True}
    figures = await _ok(projections, "/network/figures", "auditor-1")
    assert figures["overloaded_managers"] >= 1
    await projections.feed.pool.execute(f'DROP SCHEMA "{directory.schema}" CASCADE')
