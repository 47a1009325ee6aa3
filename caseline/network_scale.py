"""The demo at a real network's size: many agencies in several regions, their case managers,
and thousands of cases driven through every stage over HTTP, concurrently.

Each case follows one fate, chosen from its number so every run is the same: it stays at
intake, in planning, in monitoring or evaluated; it ends complete after an evaluation that
permits it; or its client moves away and the referral closure issues is accepted or declined
by the target's staff. One agency's cases are all left open and the agency closes at the
end (closure's fan-out ends each with its referral); one case manager departs with open
cases; one client is erased. Everything the report claims is read back from the services
(projections' figures and dashboards, closure's view of each case), never taken from what
the driver meant to do.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from caseline.scenario_http import (
    COMMAND_KEY,
    Network,
    ScenarioError,
    offer_service,
    register_agency,
    resident_number,
)

REGIONS = ("Seoul", "Busan", "Incheon", "Daegu", "Gwangju")
NEEDS = ("housing", "income")
"""Every case is assessed with these needs, and every agency offers a service for each, so
any agency the client's consent names is an eligible referral target (R9)."""

SYLLABLES = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초"
FAMILY = "김이박최정강조윤장임한오서신권황안송류전"

TRANSIENT = (429, 502, 503, 504)
"""Answers that mean "later": retried with a backoff and counted."""
WAITING_RULES = frozenset({"R1", "R4", "R6a"})
"""Refusals that lift once the service has learned from Kafka what the case needs."""

FATES = (
    "assigned",
    "assigned",
    "in_force",
    "in_force",
    "monitored",
    "monitored",
    "complete",
    "complete",
    "complete",
    "complete",
    "complete",
    "complete",
    "moved_accepted",
    "moved_accepted",
    "moved_accepted",
    "moved_declined",
    "moved_declined",
    "evaluated",
    "evaluated",
    "evaluated",
)
"""A case's fate by its number modulo 20: 30% stay open before evaluation, 15% evaluated and
open, 30% complete, 25% end when the client moves away with a referral."""

OPEN_FATES = ("assigned", "in_force", "monitored", "evaluated")


@dataclass(frozen=True)
class Size:
    """How big a network the demo builds."""

    agencies: int
    managers: int
    """Case managers per agency."""
    cases: int


SIZES = {
    "full": Size(agencies=20, managers=4, cases=2000),
    "small": Size(agencies=6, managers=2, cases=120),
}


@dataclass
class Agency:
    """One agency of the scale network and the people who act for it."""

    agency_id: str
    region: str
    supervisor: str
    managers: list[str]


@dataclass
class Tally:
    """What the driver saw: commands answered, retries, latencies, the cases' fates."""

    commands: int = 0
    retried: Counter[int] = field(default_factory=Counter)
    conflicts: int = 0
    """409s for a stream another write changed first, retried as their answer asks."""
    refused: list[str] = field(default_factory=list)
    """Cases whose referral was not issued when the driver came to answer it."""
    answered: Counter[str] = field(default_factory=Counter)
    """Referrals the targets' staff accepted or declined."""
    latencies: list[float] = field(default_factory=list)
    fates: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    recorded: list[tuple[str, list[str]]] = field(default_factory=list)
    """(service URL, event ids) of every command answered 2xx: what the services said
    they recorded (`Caseline-Recorded-Events`)."""
    replayed: int = 0
    """Retried commands a service answered from its kept answer (the first answer was
    lost on the way back)."""


class AnswerLost(ScenarioError):
    """A command was recorded, but the service stopped before it kept the answer."""


class ScaleDriver:
    """Drives the scale network's cases over HTTP with bounded concurrency."""

    def __init__(
        self,
        net: Network,
        size: Size,
        today: date,
        concurrency: int = 24,
        *,
        closing_agency: bool = True,
    ) -> None:
        self.net = net
        self.size = size
        self.closing_agency = closing_agency
        """Whether an eighth of the cases stay open at the first agency (which the demo then
        closes) and the second agency's first manager's too (who departs). Without it, as in
        the benchmarks, cases are spread evenly and each takes its fate in turn, so no
        manager's open caseload grows towards the R12 limit as the network grows."""
        self.today = today
        self.gate = asyncio.Semaphore(concurrency)
        self.tally = Tally()
        self.agencies: list[Agency] = []
        self.clients: dict[str, str] = {}
        """Case id -> client id."""
        self._tokens: dict[tuple[str, str, str], dict[str, str]] = {}

    # --- speaking to the services -------------------------------------------------------

    def as_(self, role: str, agency_id: str, staff_id: str) -> dict[str, str]:
        """A member's header (tokens are signed once and kept for the run)."""
        from shared.envelope import Role

        key = (role, agency_id, staff_id)
        if key not in self._tokens:
            self._tokens[key] = self.net.token(Role(role), agency_id, staff_id)
        return self._tokens[key]

    async def call(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        learned: bool = False,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        """One command or query: retried while the service answers "later" (503 with
        Retry-After, a dropped connection) and, with `learned`, while it has not yet
        learned the case from Kafka (404, or a refusal that lifts); its JSON.

        Every try of one command carries the same `Idempotency-Key`, so a retry after a lost
        answer is recorded once and answered as the first time."""
        key = COMMAND_KEY.set(uuid.uuid4().hex)
        try:
            return await self._call(send, learned=learned, expect=expect)
        finally:
            COMMAND_KEY.reset(key)

    async def _call(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        learned: bool,
        expect: tuple[int, ...],
    ) -> Any:
        deadline = time.monotonic() + 120
        pause = 0.05
        while True:
            try:
                answer = await send()
            except httpx.TransportError:
                answer = None
            waiting = answer is not None and learned and _not_learned_yet(answer)
            if answer is not None and lost_a_race(answer):
                # Another write to the stream came first (often the service's own consumer
                # recording what it learned): reload and retry, as the answer says.
                self.tally.conflicts += 1
                waiting = True
            if answer is not None and answer.status_code in expect:
                self._acknowledged(answer)
                return answer.json()
            if answer is not None and _answer_lost(answer):
                raise AnswerLost(f"{answer.request.method} {answer.request.url.path}")
            if answer is not None and not waiting and answer.status_code not in TRANSIENT:
                request = answer.request
                raise ScenarioError(
                    f"{request.method} {request.url.path}: {answer.status_code} {answer.text}"
                )
            if answer is not None and not waiting:
                self.tally.retried[answer.status_code] += 1
            if time.monotonic() > deadline:
                raise ScenarioError(f"no answer in time: {answer and answer.text}")
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 1.0)

    def _acknowledged(self, answer: httpx.Response) -> None:
        self.tally.commands += 1
        if answer.headers.get("idempotent-replayed") == "true":
            self.tally.replayed += 1
        recorded = answer.headers.get("caseline-recorded-events")
        if recorded:
            base = f"{answer.request.url.scheme}://{answer.request.url.netloc.decode()}"
            self.tally.recorded.append((base, recorded.split(",")))

    # --- the network --------------------------------------------------------------------

    async def build(self, admin: dict[str, str], run: str) -> None:
        """Register the agencies, their services, supervisors and case managers."""

        async def one(n: int) -> Agency:
            key = f"s{n:02d}"
            agency_id = f"scale-{key}-{run}"
            region = REGIONS[n % len(REGIONS)]
            async with self.gate:
                await register_agency(self.net, admin, agency_id, key, f"복지관 {n}", region)
                for need in NEEDS:
                    await offer_service(
                        self.net, admin, agency_id, key, f"{key}-{need}", need, need, 10_000
                    )
                agency = Agency(agency_id, region, f"sup-{key}-{run}", [])
                await self._staff(admin, agency, agency.supervisor, "supervisor", key)
                for m in range(self.size.managers):
                    staff_id = f"cm-{key}-{m}-{run}"
                    await self._staff(admin, agency, staff_id, "case_manager", key)
                    agency.managers.append(staff_id)
            return agency

        self.agencies = list(await asyncio.gather(*(one(n) for n in range(self.size.agencies))))

    async def _staff(
        self, admin: dict[str, str], agency: Agency, staff_id: str, role: str, key: str
    ) -> None:
        body: dict[str, Any] = {
            "staff_id": staff_id,
            "name": "담당자",
            "role": role,
            "joined_on": "2024-01-02",
        }
        if role == "case_manager":
            body |= {"caseload_limit": 200, "department_id": f"{key}-casework"}
        await self.call(
            lambda: self.net.directory.post(
                f"/agencies/{agency.agency_id}/staff", headers=admin, json=body
            )
        )

    async def known_everywhere(self) -> bool:
        """Whether every service accepts the last agency's last manager's token yet."""
        agency = self.agencies[-1]
        header = self.as_("case_manager", agency.agency_id, agency.managers[-1])
        probes = [
            self.net.intake.get(f"/agencies/{agency.agency_id}/caseloads", headers=header),
            self.net.careplan.get(f"/agencies/{agency.agency_id}/board", headers=header),
            self.net.monitoring.get("/board", headers=header),
            self.net.closure.get("/board", headers=header),
            self.net.clients["projections"].get(
                f"/agencies/{agency.agency_id}/dashboard", headers=header
            ),
        ]
        answers = await asyncio.gather(*probes)
        return all(a.status_code == 200 for a in answers)

    # --- one case -----------------------------------------------------------------------

    def holder(self, n: int) -> tuple[Agency, str]:
        """The case's agency and manager: an eighth of the cases at the agency that will
        close (hundreds at full size), the rest spread over the others; every agency in turn
        when there is no closing agency."""
        if not self.closing_agency:
            agency, turn = self.agencies[n % len(self.agencies)], n // len(self.agencies)
        elif n % 8 == 0:
            agency, turn = self.agencies[0], n // 8
        else:
            others = len(self.agencies) - 1
            agency, turn = self.agencies[1 + n % others], n // others
        return agency, agency.managers[turn % len(agency.managers)]

    def fate(self, n: int, agency: Agency, manager: str) -> str:
        """The case's fate: the closing agency's and the departing manager's stay open."""
        if not self.closing_agency:
            # Each agency's cases in turn (the holder takes agencies in turn), so that every
            # agency sees every fate whatever the number of agencies.
            return FATES[(n // len(self.agencies)) % len(FATES)]
        fate = FATES[n % len(FATES)]
        if agency is self.agencies[0] or manager == self.agencies[1].managers[0]:
            return OPEN_FATES[n % len(OPEN_FATES)]
        return fate

    async def planned_case(self, n: int, run: str) -> tuple[str, Agency, str]:
        """A case found, registered, assessed, assigned and with a plan in force (the
        pipeline benchmark's working cases): its id, agency and manager."""
        agency, manager = self.holder(n)
        async with self.gate:
            case_id = await self._intake(n, run, agency, manager)
            await self._plan(case_id, agency, manager)
        return case_id, agency, manager

    async def run_case(self, n: int, run: str, on_done: Callable[[str], None]) -> None:
        """One case from finding to its fate."""
        agency, manager = self.holder(n)
        fate = self.fate(n, agency, manager)
        self.tally.fates[fate] += 1
        async with self.gate:
            case_id = await self._intake(n, run, agency, manager)
            if fate != "assigned":
                await self._plan(case_id, agency, manager)
            if fate in ("monitored", "evaluated", "complete"):
                await self._review(case_id, agency, manager)
            if fate in ("evaluated", "complete"):
                await self._evaluate(case_id, agency, manager)
            if fate == "complete":
                await self._end_complete(case_id, agency, manager)
            if fate.startswith("moved"):
                await self._move_away(case_id, agency, manager, accept=fate == "moved_accepted")
        self.tally.done[fate] += 1
        on_done(fate)

    async def _intake(self, n: int, run: str, agency: Agency, manager: str) -> str:
        me = self.as_("case_manager", agency.agency_id, manager)
        intake = self.net.intake
        opened = await self.call(
            lambda: intake.post("/cases", headers=me, json={"source": "walk_in"})
        )
        case_id: str = opened["case_id"]
        started = time.monotonic()
        registered = await self.call(
            lambda: intake.post(f"/cases/{case_id}/registration", headers=me, json=_person(n, run))
        )
        self.clients[case_id] = registered["client_id"]
        others = [a.agency_id for a in self._neighbours(agency)]
        await self.call(
            lambda: intake.post(
                f"/cases/{case_id}/consents",
                headers=me,
                json={
                    "agencies": [agency.agency_id, *others],
                    "purposes": ["case_management", "referral"],
                    "valid_until": "2030-12-31",
                },
            ),
            learned=True,
        )
        await self.call(
            lambda: intake.post(
                f"/cases/{case_id}/screening",
                headers=me,
                json={"outcome": "eligible", "presenting_problems": list(NEEDS)},
            )
        )
        await self.call(
            lambda: intake.post(
                f"/cases/{case_id}/assessment",
                headers=me,
                json={
                    "needs": [{"domain": d, "severity": "moderate"} for d in NEEDS],
                    "strengths": ["family_support"],
                    "interpreter_needed": False,
                },
            )
        )
        await self.call(
            lambda: intake.post(
                f"/cases/{case_id}/assignment", headers=me, json={"staff_id": manager}
            )
        )
        if n % 10 == 0:
            await self._time_to_read_model(case_id, started)
        return case_id

    def _neighbours(self, agency: Agency) -> list[Agency]:
        """The three agencies after this one (in other regions): named for referral."""
        at = self.agencies.index(agency)
        count = len(self.agencies)
        return [self.agencies[(at + k) % count] for k in (1, 2, 3) if (at + k) % count != at]

    async def _time_to_read_model(self, case_id: str, since: float) -> None:
        """Time from the assignment's answer until projections' journey shows the manager."""
        answered = time.monotonic()
        del since
        projections = self.net.clients["projections"]
        admin = self.net.admin()
        deadline = answered + 60
        while time.monotonic() < deadline:
            try:
                seen = await projections.get(f"/cases/{case_id}/journey", headers=admin)
            except httpx.TransportError:
                await asyncio.sleep(0.1)  # projections is restarting: keep waiting
                continue
            if seen.status_code == 200 and seen.json().get("manager_id"):
                self.tally.latencies.append(time.monotonic() - answered)
                return
            await asyncio.sleep(0.01)

    async def _plan(self, case_id: str, agency: Agency, manager: str) -> None:
        me = self.as_("case_manager", agency.agency_id, manager)
        today = self.today
        body = {
            "plan_date": today.isoformat(),
            "goals": [
                {
                    "goal_id": "g1",
                    "wording": "안정된 주거와 생계를 회복한다",
                    "target_date": (today + timedelta(days=90)).isoformat(),
                    "strengths": ["family_support"],
                }
            ],
            "items": [
                {
                    "item_id": f"i-{need}",
                    "goal_id": "g1",
                    "delivery": "own_agency",
                    "need_domain": need,
                    "start_on": today.isoformat(),
                    "end_on": (today + timedelta(days=60)).isoformat(),
                }
                for need in NEEDS
            ],
        }
        careplan = self.net.careplan
        drafted = await self.call(
            lambda: careplan.post(f"/cases/{case_id}/plan-versions", headers=me, json=body),
            learned=True,
        )
        version = drafted["plan_version"]
        await self.call(
            lambda: careplan.post(
                f"/cases/{case_id}/plan-versions/{version}/agreement",
                headers=me,
                json={"agreed_on": today.isoformat(), "declined_items": []},
            )
        )

    async def _review(self, case_id: str, agency: Agency, manager: str) -> None:
        me = self.as_("case_manager", agency.agency_id, manager)
        body = {
            "goals": [{"goal_id": "g1", "progress": "reached"}],
            "items": [{"item_id": f"i-{need}", "fit": "appropriate"} for need in NEEDS],
            "implementation": 4,
            "client_satisfied": True,
            "manager_satisfied": True,
            "new_needs": False,
        }
        await self.call(
            lambda: self.net.monitoring.post(f"/cases/{case_id}/reviews", headers=me, json=body),
            learned=True,
        )

    async def _evaluate(self, case_id: str, agency: Agency, manager: str) -> None:
        me = self.as_("case_manager", agency.agency_id, manager)
        monitoring = self.net.monitoring
        for instrument, score in BASELINES.items():
            body = {"instrument": instrument, "score": score}
            await self.call(
                lambda body=body: monitoring.post(  # type: ignore[misc]
                    f"/cases/{case_id}/baselines", headers=me, json=body
                )
            )
        await self.call(
            lambda: monitoring.post(
                f"/cases/{case_id}/evaluations",
                headers=me,
                json={
                    "goals": [{"goal_id": "g1", "rating": "achieved"}],
                    "scores": LATER_SCORES,
                    "no_further_service_needed": True,
                },
            )
        )

    async def _end_complete(self, case_id: str, agency: Agency, manager: str) -> None:
        me = self.as_("case_manager", agency.agency_id, manager)
        boss = self.as_("supervisor", agency.agency_id, agency.supervisor)
        closure = self.net.closure
        await self.call(
            lambda: closure.post(f"/cases/{case_id}/preparation", headers=me, json=PREPARATION),
            learned=True,
        )
        await self.call(
            lambda: closure.post(f"/cases/{case_id}/approval", headers=boss), learned=True
        )
        await self.call(
            lambda: closure.post(
                f"/cases/{case_id}/termination", headers=me, json={"reason": "goals_achieved"}
            ),
            learned=True,
        )

    async def _move_away(self, case_id: str, agency: Agency, manager: str, *, accept: bool) -> None:
        me = self.as_("case_manager", agency.agency_id, manager)
        closure = self.net.closure
        await self.call(
            lambda: closure.post(
                f"/cases/{case_id}/termination",
                headers=me,
                json={"reason": "client_moved_away", "client_accepts_referral": True},
            ),
            learned=True,
        )
        # Closure may have decided before it learned the client's consent: the referral then
        # waits (no_consent) and is issued once the consent arrives over Kafka.
        referral: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = await self.call(lambda: closure.get(f"/cases/{case_id}", headers=me))
            referral = seen.get("referral") or {}
            if referral.get("status") == "issued":
                break
            await asyncio.sleep(0.2)
        target = (referral.get("target") or {}).get("agency_id")
        if referral.get("status") != "issued" or target is None:
            self.tally.refused.append(f"{case_id}: referral {referral.get('status')}")
            return
        holder = next(a for a in self.agencies if a.agency_id == target)
        staff = self.as_("case_manager", holder.agency_id, holder.managers[0])
        referral_id = referral["referral_id"]
        if accept:
            await self.call(
                lambda: closure.post(f"/referrals/{referral_id}/acceptance", headers=staff)
            )
            self.tally.answered["accepted"] += 1
        else:
            self.tally.answered["declined"] += 1
            await self.call(
                lambda: closure.post(
                    f"/referrals/{referral_id}/decline",
                    headers=staff,
                    json={"reason": "no_capacity"},
                )
            )


BASELINES = {"network_social": 10, "network_providers": 8, "phq9": 15}
LATER_SCORES = {"network_social": 16, "network_providers": 13, "phq9": 8}
PREPARATION = {
    "community_resources_found": True,
    "help_again_explained": True,
    "independent_activity_encouraged": True,
    "gains_maintenance_planned": True,
    "reactions": ["anxiety"],
    "responses": ["accepted_and_acknowledged"],
}


def lost_a_race(answer: httpx.Response) -> bool:
    """A 409 that names no rule: the stream moved on under the request (a conflict)."""
    if answer.status_code != 409:
        return False
    try:
        body = answer.json()
        return "rule" not in body and "code" not in body
    except ValueError:
        return False


def _answer_lost(answer: httpx.Response) -> bool:
    """A 409 saying the command was recorded but its answer was not kept."""
    if answer.status_code != 409:
        return False
    try:
        return bool(answer.json().get("code") == "answer_lost")
    except ValueError:
        return False


def _not_learned_yet(answer: httpx.Response) -> bool:
    if answer.status_code == 404:
        return True
    if answer.status_code != 409:
        return False
    try:
        return answer.json().get("rule") in WAITING_RULES
    except ValueError:
        return False


def _person(n: int, run: str) -> dict[str, str]:
    """A made-up person, unique per case and run (a name intake has not seen before)."""
    tag = "".join(SYLLABLES[int(c, 16) % len(SYLLABLES)] for c in run[:4])
    given = SYLLABLES[n % len(SYLLABLES)] + SYLLABLES[(n // len(SYLLABLES)) % len(SYLLABLES)]
    born = date(1940, 1, 1) + timedelta(days=(n * 37) % 20000)
    return {
        "name": f"{FAMILY[n % len(FAMILY)]}{given}{tag}",
        "birth_date": born.isoformat(),
        "resident_number": resident_number(born, f"{n % 100000:05d}"),
        "phone": f"010-{n // 10000 % 10000:04d}-{n % 10000:04d}",
        "address": f"가상시 {REGIONS[n % len(REGIONS)]}구 {n}번길",
        "preferred_language": "ko",
    }
