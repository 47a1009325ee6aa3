"""The demo's care desk: who works the cases at Mapo and its partner, which case plays which
part, and the requests every care stage makes (plans, agreements, consents) in one place.

Shared by the careplan stages (`scenario_care`) and the monitoring stages
(`scenario_monitoring`). A service that must first learn something from Kafka (an
assignment, a consent, a member of staff) is asked again until a deadline, never for ever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from caseline.scenario_http import Network, Reporter, checked, eventually, succeeded
from shared.clock import agency_today
from shared.envelope import Role

GOAL_WORDING = {
    "g-home": "이번 겨울 전에 안정된 주거를 되찾는다",
    "g-mind": "불면과 불안을 줄이고 상담을 꾸준히 받는다",
    "g-income": "체납된 월세를 정리하고 기초생계급여를 신청한다",
}
"""What each goal says, in the client's words: sealed in careplan's vault, never in an event."""

PLAN_NOTES = "주 1회 방문 상담; 집주인과 체납 협의 예정"
"""The manager's notes on a plan version: for careplan's vault only."""

WAITING_RULES = frozenset({"R1", "R4", "R6a"})
"""Refusals that lift once a consumer has caught up (an assignment, a consent, a service)."""


@dataclass(frozen=True)
class Desk:
    """The people at work: Mapo's managers and supervisor, and the partner agency's staff."""

    net: Network
    mapo: str
    incheon: str
    kim: dict[str, str]
    lee: dict[str, str]
    supervisor: dict[str, str]
    partner: dict[str, str]
    today: date

    @property
    def careplan(self) -> httpx.AsyncClient:
        """Careplan's HTTP client."""
        return self.net.careplan

    @property
    def mental_health_item(self) -> dict[str, Any]:
        """The item linked to Incheon's counselling service (its ids as the directory has them)."""
        return {
            "need_domain": "mental_health",
            "delivery": "linked_agency",
            "agency_id": self.incheon,
            "department_id": "incheon-casework",
            "service_id": "incheon-mental_health",
        }


@dataclass(frozen=True)
class CareCases:
    """The four cases intake assigned, by the part each plays from here on."""

    crisis: str
    """A: the walk-in client in crisis (kim): crisis intervention, revision, evaluation."""
    interpreter: str
    """B: the Vietnamese-speaking client (kim): a declined link, advocacy."""
    declining: str
    """C: the self-referred client (lee): declines an item; linked once the consent allows."""
    paper: str
    """D: the returning client at the caseload limit (lee): a plan agreed on paper."""

    def labelled(self) -> dict[str, str]:
        """Every case by the letter the report calls it."""
        return {
            "A": self.crisis,
            "B": self.interpreter,
            "C": self.declining,
            "D": self.paper,
        }


def desk_of(net: Network, agencies: dict[str, Any]) -> Desk:
    """The tokens of the people the care stages need, from the network intake used."""
    mapo, incheon = agencies["mapo"], agencies["incheon"]
    return Desk(
        net=net,
        mapo=mapo["id"],
        incheon=incheon["id"],
        kim=net.token(Role.CASE_MANAGER, mapo["id"], mapo["staff"]["kim"]),
        lee=net.token(Role.CASE_MANAGER, mapo["id"], mapo["staff"]["lee"]),
        supervisor=net.token(Role.SUPERVISOR, mapo["id"], mapo["supervisor"]),
        partner=net.token(Role.CASE_MANAGER, incheon["id"], incheon["staff"]["choi"]),
        today=agency_today(),
    )


def refused(answer: httpx.Response, rule: str, status: int = 409) -> bool:
    """Whether a service refused with the rule expected (and so wrote nothing)."""
    return answer.status_code == status and answer.json().get("rule") == rule


def reason(answer: httpx.Response) -> str:
    """The refusal's own words, for the report."""
    detail = answer.json().get("detail", "")
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)
    return str(detail)


async def once_learned(
    send: Callable[[], Awaitable[httpx.Response]], seconds: float = 60.0
) -> httpx.Response:
    """Send a request until the service has learned what it needs from Kafka: while it
    answers 404 (the case is not known yet) or a refusal in `WAITING_RULES`, try again."""

    def waiting(answer: httpx.Response) -> bool:
        return answer.status_code == 404 or (
            answer.status_code == 409 and answer.json().get("rule") in WAITING_RULES
        )

    _, answer = await eventually(send, lambda a: not waiting(a), seconds)
    return answer


def goal(
    goal_id: str, target: date, strengths: tuple[str, ...] = ("family_support",)
) -> dict[str, Any]:
    """A goal of a plan: its wording (for the vault), target date and strengths used."""
    return {
        "goal_id": goal_id,
        "wording": GOAL_WORDING[goal_id],
        "target_date": target.isoformat(),
        "strengths": list(strengths),
    }


def item(item_id: str, goal_id: str, start: date, end: date, **delivery: Any) -> dict[str, Any]:
    """An item of a plan: delivered by the own agency unless `delivery` says otherwise."""
    return {
        "item_id": item_id,
        "goal_id": goal_id,
        "delivery": "own_agency",
        "start_on": start.isoformat(),
        "end_on": end.isoformat(),
        **delivery,
    }


async def draft_and_agree(
    desk: Desk,
    case_id: str,
    manager: dict[str, str],
    body: dict[str, Any],
    *,
    agreed_on: date | None = None,
    declined: tuple[str, ...] = (),
) -> int:
    """Draft a plan version with the client and record their agreement (R3, R4)."""
    drafted = checked(
        await once_learned(
            lambda: desk.careplan.post(
                f"/cases/{case_id}/plan-versions", headers=manager, json=body
            )
        )
    )
    version: int = drafted["plan_version"]
    await succeeded(
        desk.careplan.post(
            f"/cases/{case_id}/plan-versions/{version}/agreement",
            headers=manager,
            json={
                "agreed_on": (agreed_on or desk.today).isoformat(),
                "declined_items": list(declined),
            },
        )
    )
    return version


async def consent(
    desk: Desk, case_id: str, manager: dict[str, str], agencies: list[str], purposes: list[str]
) -> None:
    """Record a consent at intake: what the client allows, for which agencies (R4)."""
    await succeeded(
        desk.net.intake.post(
            f"/cases/{case_id}/consents",
            headers=manager,
            json={"agencies": agencies, "purposes": purposes, "valid_until": "2030-12-31"},
        )
    )


async def careplan_board(desk: Desk) -> dict[str, Any]:
    """Mapo's careplan board as its supervisor sees it."""
    board: dict[str, Any] = await succeeded(
        desk.careplan.get(f"/agencies/{desk.mapo}/board", headers=desk.supervisor)
    )
    return board


def standard_plan(desk: Desk, *, interpreter: bool = False) -> dict[str, Any]:
    """Housing by Mapo itself and counselling linked to Incheon, for the assessed needs."""
    support = {"language_support": "interpreter"} if interpreter else {}
    today = desk.today
    return {
        "plan_date": today.isoformat(),
        "goals": [
            goal("g-home", today + timedelta(days=90)),
            goal("g-mind", today + timedelta(days=120)),
        ],
        "items": [
            item(
                "i-housing",
                "g-home",
                today,
                today + timedelta(days=60),
                need_domain="housing",
                **support,
            ),
            item(
                "i-mind",
                "g-mind",
                today,
                today + timedelta(days=90),
                **desk.mental_health_item,
                **support,
            ),
        ],
        "notes": PLAN_NOTES,
    }


async def staff_known(desk: Desk, report: Reporter) -> None:
    """Careplan and monitoring check every token against the members they learned from
    caseline.directory.v1: wait (bounded) until they know the people the stages need."""
    mapo_board = f"/agencies/{desk.mapo}/board"
    probes = [
        (desk.careplan, mapo_board, headers) for headers in (desk.kim, desk.lee, desk.supervisor)
    ]
    probes.append((desk.careplan, f"/agencies/{desk.incheon}/inbox", desk.partner))
    probes += [
        (desk.net.monitoring, "/board", headers)
        for headers in (desk.kim, desk.lee, desk.supervisor)
    ]

    async def answers() -> list[int]:
        return [(await http.get(path, headers=h)).status_code for http, path, h in probes]

    held, seen = await eventually(answers, lambda codes: all(c == 200 for c in codes))
    report.check(
        held,
        "careplan and monitoring learned Mapo's and Incheon's staff from caseline.directory.v1 "
        f"and accept their tokens ({len(seen)} requests answered {sorted(set(seen))})",
    )
