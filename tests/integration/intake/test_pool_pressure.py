"""Intake under more concurrent requests than it has pooled connections (through the real app).

No request may wait for a second pooled connection while it holds one: with every connection
held that way, every request, `/health` included, would wait for good. A request that cannot
get a connection in time answers 503 (with Retry-After) and writes nothing.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
from collections.abc import Awaitable
from datetime import date
from typing import Any

import httpx
import pytest

from services.intake.application.ports import Intake
from shared import auth
from tests.integration.intake.conftest import (
    CONSENT_UNTIL,
    Agency,
    Network,
    make_agency,
    person,
)

LANES = 30
WHOLE_TEST_SECONDS = 60.0
HEALTH_BOUND_SECONDS = 1.0


@dataclasses.dataclass
class HealthWatch:
    """Polls /health/live and /health while the load runs; keeps every answer's time."""

    http: httpx.AsyncClient
    answers: list[tuple[str, int, float]] = dataclasses.field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for path in ("/health/live", "/health"):
                started = time.monotonic()
                answer = await self.http.get(path)
                self.answers.append((path, answer.status_code, time.monotonic() - started))
            await asyncio.sleep(0.02)

    def slowest(self, path: str) -> float:
        return max(took for p, _, took in self.answers if p == path)


async def _all(requests: list[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


def _statuses(answers: list[httpx.Response]) -> list[int]:
    return [a.status_code for a in answers]


async def _open(agency: Agency, count: int) -> list[str]:
    answers = await _all(
        [
            agency.net.intake.post("/cases", json={"source": "walk_in"}, headers=agency.manager())
            for _ in range(count)
        ]
    )
    assert _statuses(answers) == [201] * count, [a.text for a in answers]
    return [a.json()["case_id"] for a in answers]


async def _registered_clients(agency: Agency, count: int) -> list[str]:
    cases = await _open(agency, count)
    answers = await _all(
        [
            agency.net.intake.post(
                f"/cases/{case_id}/registration", json=person(), headers=agency.manager()
            )
            for case_id in cases
        ]
    )
    assert _statuses(answers) == [201] * count, [a.text for a in answers]
    return [a.json()["client_id"] for a in answers]


async def _load(net: Network, agency: Agency) -> dict[str, list[int]]:
    """30 concurrent erasures (same and different clients), then 30 of every other kind."""
    http, manager, supervisor = net.intake, agency.manager(), agency.supervisor_auth()
    seen: dict[str, list[int]] = {}

    async def each(kind: str, requests: list[Awaitable[httpx.Response]]) -> list[httpx.Response]:
        answers = await _all(requests)
        seen[kind] = _statuses(answers)
        return answers

    # Erasure: ten of one client at once, and twenty other clients once each.
    clients = await _registered_clients(agency, 21)
    targets = [clients[0]] * 10 + clients[1:]
    await each(
        "erasure",
        [http.post(f"/clients/{c}/erasure", headers=supervisor) for c in targets],
    )

    # Every other command, thirty at once each.
    fresh, linking = await _open(agency, LANES), await _open(agency, LANES)
    twin = person("Same Person Twice", born=date(1950, 1, 2))
    people = [person() for _ in range(LANES - 10)] + [twin] * 10
    registered = await each(
        "registration",
        [
            http.post(f"/cases/{case_id}/registration", json=body, headers=manager)
            for case_id, body in zip(fresh, people, strict=True)
        ],
    )
    known = [
        (a.json()["client_id"], body)
        for a, body in zip(registered, people, strict=True)
        if a.status_code == 201
    ]
    await each(
        "returning-client",
        [
            http.post(
                f"/cases/{case_id}/returning-client",
                json={
                    "client_id": known[n % len(known)][0],
                    "name": known[n % len(known)][1]["name"],
                    "birth_date": known[n % len(known)][1]["birth_date"],
                },
                headers=manager,
            )
            for n, case_id in enumerate(linking)
        ],
    )
    consents = await each(
        "consent",
        [
            http.post(
                f"/cases/{case_id}/consents",
                json={
                    "agencies": [agency.agency_id],
                    "purposes": ["case_management", "referral"],
                    "valid_until": CONSENT_UNTIL,
                },
                headers=manager,
            )
            for case_id in linking
        ],
    )
    steps: list[tuple[str, str, Any]] = [
        (
            "screening",
            "screening",
            {"outcome": "eligible", "presenting_problems": ["housing", "income"]},
        ),
        (
            "assessment",
            "assessment",
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "interpreter_needed": False,
                "cultural_needs": "halal meals",
            },
        ),
        ("assignment", "assignment", lambda n: {"staff_id": agency.managers[n % 2]}),
        (
            "reassignment",
            "reassignment",
            lambda n: {"to_staff_id": agency.managers[(n + 1) % 2], "reason": "caseload_balancing"},
        ),
    ]
    for kind, path, body in steps:
        await each(
            kind,
            [
                http.post(
                    f"/cases/{case_id}/{path}",
                    json=body(n) if callable(body) else body,
                    headers=manager,
                )
                for n, case_id in enumerate(linking)
            ],
        )
    await each(
        "consent-withdrawal",
        [
            http.post(
                f"/cases/{case_id}/consents/{answer.json()['consent_id']}/withdrawal",
                headers=manager,
            )
            for case_id, answer in zip(linking, consents, strict=True)
        ],
    )
    await each(
        "open-case",
        [http.post("/cases", json={"source": "outreach"}, headers=manager) for _ in range(LANES)],
    )
    reads = {
        "read-case": [http.get(f"/cases/{c}", headers=manager) for c in linking],
        "read-client": [
            http.get(f"/clients/{known[n % len(known)][0]}", headers=manager) for n in range(LANES)
        ],
        "consent-check": [
            http.get(
                f"/cases/{c}/consent-check",
                params={"agency_id": agency.agency_id, "purpose": "referral"},
                headers=manager,
            )
            for c in linking
        ],
        "caseloads": [
            http.get(f"/agencies/{agency.agency_id}/caseloads", headers=manager)
            for _ in range(LANES)
        ],
    }
    for kind, requests in reads.items():
        await each(kind, requests)
    return seen


async def test_thirty_concurrent_erasures_then_thirty_of_every_other_command_never_hang_intake(
    network: Network,
) -> None:
    """R11 erasure and every other command share one pool; none waits for a second connection."""
    agency = await make_agency(network, {"cm-a": 100, "cm-b": 100})
    watch, stop = HealthWatch(network.intake), asyncio.Event()
    poller = asyncio.create_task(watch.run(stop))
    started = time.monotonic()
    try:
        seen = await asyncio.wait_for(_load(network, agency), timeout=WHOLE_TEST_SECONDS)
    finally:
        stop.set()
        await poller
    took = time.monotonic() - started

    assert seen["erasure"] == [200] * LANES
    # Ten registrations of one person: one is new, nine are told of the possible duplicate.
    assert sorted(seen["registration"]) == [201] * (LANES - 9) + [409] * 9
    for kind in ("returning-client", "consent", "open-case"):
        assert seen[kind] == [201] * LANES, kind
    for kind in (
        "screening",
        "assessment",
        "assignment",
        "reassignment",
        "consent-withdrawal",
        "read-case",
        "read-client",
        "consent-check",
        "caseloads",
    ):
        assert seen[kind] == [200] * LANES, kind
    live, ready = watch.slowest("/health/live"), watch.slowest("/health")
    print(
        f"\nload of {sum(len(s) for s in seen.values())} requests took {took:.2f} s; slowest "
        f"/health/live {live:.3f} s, /health {ready:.3f} s over {len(watch.answers)} polls"
    )
    assert watch.answers
    assert all(status == 200 for _, status, _ in watch.answers), watch.answers
    assert live < HEALTH_BOUND_SECONDS
    assert ready < HEALTH_BOUND_SECONDS


async def test_a_request_that_gets_no_pooled_connection_in_time_answers_503_and_writes_nothing(
    network: Network, agency: Agency, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every pooled connection held elsewhere: a command answers 503 with Retry-After, no hang."""
    http, app = network.intake, network.intake_app
    opened = await http.post("/cases", json={"source": "walk_in"}, headers=agency.manager())
    case_id = opened.json()["case_id"]
    runtime = app.state.runtime
    intake: Intake = runtime.ports
    # The same command path, with a shorter wait for a connection (reads share its bound).
    impatient = copy.copy(intake.path)
    impatient.acquire_timeout = 0.3
    runtime.ports = dataclasses.replace(intake, path=impatient)
    # The token's standing is looked up first, under the same kind of bound.
    monkeypatch.setattr(auth, "STANDING_CHECK_SECONDS", 0.3)
    pool = intake.path.pool
    # Take every connection the pool will give (the relay keeps one for its leadership lock).
    held: list[Any] = []
    try:
        while len(held) < pool.get_max_size():
            held.append(await pool.acquire(timeout=0.5))
    except TimeoutError:
        pass
    try:
        started = time.monotonic()
        answer = await asyncio.wait_for(
            http.post(f"/cases/{case_id}/registration", json=person(), headers=agency.manager()),
            timeout=10,
        )
        took = time.monotonic() - started
    finally:
        for conn in held:
            await pool.release(conn)
        runtime.ports = intake
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    assert took < 2.0
    assert await network.events_in(case_id) == ["CaseFound"]
