"""The loop across three real services (R8, R9, R12): the directory, intake and closure apps
on topics and schemas of their own. A case taken through intake's API ends at closure with
its referral; intake's roster and the directory's read model both count one fewer for the
manager; the target accepts, and
intake at the target opens the linked inbound-referral case once (however often the
acceptance is delivered), which closure then records as the referral completed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from services.closure.bootstrap import Topics as ClosureTopics
from services.closure.bootstrap import build as build_closure
from services.directory.bootstrap import Topics as DirectoryTopics
from services.directory.bootstrap import build as build_directory
from services.intake.application.referrals import referred_case_id
from services.intake.bootstrap import Topics as IntakeTopics
from services.intake.bootstrap import build as build_intake
from services.intake.domain.rrn import make_resident_number
from shared.codec import to_kafka
from shared.envelope import Role
from shared.relay import idempotent_producer
from tests.harness import RunningService, eventually, running_service, unique, unique_schema
from tests.integration.kafka_reading import fresh_topics
from tests.integration.members import enroll_in_directory, until_known

pytestmark = pytest.mark.infra


@dataclass
class Three:
    directory: RunningService
    intake: RunningService
    closure: RunningService
    topics: ClosureTopics

    def auth(self, role: Role, agency: str, staff: str) -> dict[str, str]:
        return self.closure.auth(role, agency, staff)


@pytest.fixture(scope="module")
async def three(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Three]:
    topics = ClosureTopics.in_namespace(f"test-loop-{uuid.uuid4().hex[:8]}")
    infra: dict[str, Any] = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap}
    async with (
        fresh_topics(
            kafka_bootstrap,
            topics.closure,
            topics.intake,
            topics.careplan,
            topics.monitoring,
            topics.directory,
        ),
        running_service(
            lambda s: build_directory(
                s,
                topics=DirectoryTopics(
                    directory=topics.directory, intake=topics.intake, closure=topics.closure
                ),
            ),
            schema=unique_schema("directory"),
            base_url="http://directory",
            **infra,
        ) as directory,
        running_service(
            lambda s: build_intake(
                s,
                topics=IntakeTopics(
                    intake=topics.intake, directory=topics.directory, closure=topics.closure
                ),
            ),
            schema=unique_schema("intake"),
            base_url="http://intake",
            **infra,
        ) as intake,
        running_service(
            lambda s: build_closure(s, topics=topics, scheduler_seconds=0.2),
            schema=unique_schema("closure"),
            base_url="http://closure",
            **infra,
        ) as closure,
    ):
        await enroll_in_directory(directory.app.state.runtime.store, "netadmin-1")
        for running in (directory, intake, closure):
            await until_known(running.pool, "network", "netadmin-1", Role.NETWORK_ADMIN)
        yield Three(directory, intake, closure, topics)


async def _post(http: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str]) -> Any:
    answer = await http.post(url, json=body, headers=headers)
    assert answer.status_code in (200, 201), f"{url}: {answer.text}"
    return answer.json()


async def _agency(net: Three, *, offers_services: bool) -> str:
    agency_id = unique("ag")
    admin = net.auth(Role.NETWORK_ADMIN, "network", "netadmin-1")
    http = net.directory.http
    await _post(
        http, "/agencies", {"agency_id": agency_id, "name": "Hub", "region": "Seoul"}, admin
    )
    for staff_id, role in (("sup-1", "supervisor"), ("mgr-1", "case_manager")):
        body: dict[str, Any] = {
            "staff_id": staff_id,
            "name": staff_id,
            "role": role,
            "joined_on": "2024-01-02",
        }
        if role == "case_manager":
            body["caseload_limit"] = 3
        await _post(http, f"/agencies/{agency_id}/staff", body, admin)
    for domain in ("housing", "income") if offers_services else ():
        service = {
            "service_id": f"{agency_id}-{domain}",
            "name": "Support",
            "need_domain": domain,
            "resource": "formal",
            "capacity": 4,
        }
        await _post(http, f"/agencies/{agency_id}/services", service, admin)
    for running in (net.intake, net.closure):
        await until_known(running.pool, agency_id, "mgr-1", Role.CASE_MANAGER)
    return agency_id


async def _caseload(net: Three, agency_id: str) -> int:
    board = await net.intake.http.get(
        f"/agencies/{agency_id}/caseloads", headers=net.auth(Role.SUPERVISOR, agency_id, "sup-1")
    )
    assert board.status_code == 200, board.text
    return next(s["caseload"] for s in board.json()["staff"] if s["staff_id"] == "mgr-1")


async def _directory_caseload(net: Three, agency_id: str) -> int:
    staff = await net.directory.http.get(
        "/staff",
        params={"agency_id": agency_id, "role": "case_manager"},
        headers=net.auth(Role.SUPERVISOR, agency_id, "sup-1"),
    )
    assert staff.status_code == 200, staff.text
    return next(int(s["caseload"]) for s in staff.json() if s["staff_id"] == "mgr-1")


async def test_an_ended_case_leaves_both_caseloads_refers_and_the_target_opens_it_once_r4_r8_r9_r12(
    three: Three,
) -> None:
    home = await _agency(three, offers_services=False)
    target = await _agency(three, offers_services=True)
    manager = three.auth(Role.CASE_MANAGER, home, "mgr-1")
    http = three.intake.http
    case_id = (await _post(http, "/cases", {"source": "walk_in"}, manager))["case_id"]
    born = date(1961, 5, 17)
    person = {
        "name": "Test Person",
        "birth_date": born.isoformat(),
        "resident_number": make_resident_number(born, "234567"),
        "phone": "010-5555-0000",
        "address": "서울특별시 마포구 성미산로 1",
        "preferred_language": "ko",
    }
    registered = await _post(http, f"/cases/{case_id}/registration", person, manager)
    client_id = registered["client_id"]
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "consents",
            {
                "agencies": [home, target],
                "purposes": ["case_management", "referral"],
                "valid_until": "2099-12-31",
            },
        ),
        ("screening", {"outcome": "eligible", "presenting_problems": ["housing", "income"]}),
        (
            "assessment",
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "strengths": ["family_support"],
                "risks": [],
                "interpreter_needed": False,
                "cultural_needs": None,
            },
        ),
        ("assignment", {"staff_id": "mgr-1"}),
    ]
    for step, body in steps:
        await _post(http, f"/cases/{case_id}/{step}", body, manager)
    assert await _caseload(three, home) == 1
    await eventually(
        lambda: _directory_caseload(three, home), lambda n: n == 1, "the directory counts it"
    )

    closure = three.closure
    await eventually(
        lambda: closure.pool.fetchval(
            "SELECT manager_id FROM closure_cases WHERE case_id = $1", case_id
        ),
        lambda found: found == "mgr-1",
        "closure learned the case up to its assignment",
    )
    options = await closure.http.get(f"/cases/{case_id}/referral-options", headers=manager)
    assert [o["provider"]["agency_id"] for o in options.json()["options"] if o["eligible"]] == [
        target
    ]
    ended = await _post(
        closure.http, f"/cases/{case_id}/termination", {"reason": "programme_ended"}, manager
    )
    assert ended["events"] == ["CaseTerminated", "ReferralIssued"]
    assert ended["target"]["agency_id"] == target
    # R12: both rosters count one fewer once the case has ended.
    await eventually(lambda: _caseload(three, home), lambda n: n == 0, "intake's caseload falls")
    await eventually(
        lambda: _directory_caseload(three, home), lambda n: n == 0, "the directory's falls"
    )

    referral_id = ended["referral_id"]
    target_manager = three.auth(Role.CASE_MANAGER, target, "mgr-1")
    await _post(closure.http, f"/referrals/{referral_id}/acceptance", None, target_manager)
    linked = referred_case_id(referral_id)

    async def linked_events() -> list[str]:
        rows = await three.intake.pool.fetch(
            "SELECT event_type, payload->>'referring_case_id' AS referring FROM events "
            "WHERE case_id = $1 ORDER BY stream_version",
            linked,
        )
        return [f"{r['event_type']}:{r['referring']}" for r in rows]

    await eventually(linked_events, lambda e: e == [f"CaseFound:{case_id}"], "linked case opened")
    # Delivered again, the acceptance opens nothing more.
    stored = [
        e
        for e in await closure.app.state.runtime.store.read_stream_raw(case_id)
        if e.event_type == "ReferralAccepted"
    ]
    record = to_kafka(stored[0], "closure")
    producer = idempotent_producer(closure.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            three.topics.closure, value=record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()
    await eventually(
        lambda: closure.pool.fetch(
            "SELECT event_type FROM events WHERE case_id = $1 ORDER BY stream_version", case_id
        ),
        lambda rows: rows[-1]["event_type"] == "ReferralCompleted",
        "the referral completed at closure",
    )
    summary = await three.intake.pool.fetchrow(
        "SELECT agency_id, stage FROM case_summary WHERE case_id = $1", linked
    )
    assert summary is not None and summary["agency_id"] == target
    assert await linked_events() == [f"CaseFound:{case_id}"]
    opened_at_target = await three.intake.pool.fetchval(
        "SELECT count(*) FROM case_summary WHERE agency_id = $1", target
    )
    assert opened_at_target == 1
    # R4, R10: the record moves to the target only through the consent naming it for
    # referral; an agency it does not name is not told the client exists (R11).
    stranger = await _agency(three, offers_services=False)
    for agency_id, code in ((target, 200), (stranger, 404)):
        asked = await http.get(
            f"/clients/{client_id}", headers=three.auth(Role.CASE_MANAGER, agency_id, "mgr-1")
        )
        assert asked.status_code == code, asked.text
