"""The demo's closure desk: the referral targets that join the network, and how the
scenario reads closure (a case, its referral options) and waits, bounded, until closure has
learned from Kafka what the next step needs.

Shared by the terminations at Mapo (`scenario_closure`) and Mapo's closure
(`scenario_agency_closure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caseline.scenario_desk import Desk
from caseline.scenario_http import (
    Network,
    Reporter,
    checked,
    eventually,
    offer_service,
    register_agency,
    succeeded,
)
from shared.envelope import Role

PARTNERS: dict[str, dict[str, Any]] = {
    "seodaemun": {
        "name": "서대문종합사회복지관",
        "region": "Seoul",
        "services": ("housing", "income", "mental_health", "social_isolation"),
    },
    "yeonhui": {
        "name": "연희가족지원센터",
        "region": "Seoul",
        "services": ("income", "social_isolation"),
    },
}
"""The agencies that join to receive referrals: their ids sort after Incheon's, so Incheon
ranks first wherever it is eligible (the options rank room first, then by agency id)."""

INCHEON_ADDS = ("housing", "income", "social_isolation")
"""Services Incheon's centre adds, so it could take every need of Mapo's clients."""

CLOSURE_WAIT_SECONDS = 90.0
"""How long the demo waits for closure to learn a fact or for its scheduler to act."""


@dataclass(frozen=True)
class Targets:
    """The referral targets of this run and the people who answer for them."""

    incheon: str
    seodaemun: str
    yeonhui: str
    incheon_staff: dict[str, str]
    seodaemun_staff: dict[str, str]


async def closure_case(net: Network, case_id: str) -> dict[str, Any] | None:
    """What closure knows of a case (as a network administrator reads it), None until known."""
    answer = await net.closure.get(f"/cases/{case_id}", headers=net.admin())
    if answer.status_code == 404:
        return None
    found: dict[str, Any] = checked(answer)
    return found


async def options_of(net: Network, case_id: str) -> dict[str, Any]:
    """`GET /cases/{id}/referral-options` as a network administrator reads it."""
    answer = await net.closure.get(f"/cases/{case_id}/referral-options", headers=net.admin())
    if answer.status_code == 404:
        return {"needs": [], "options": []}
    found: dict[str, Any] = checked(answer)
    return found


def eligible(options: dict[str, Any]) -> list[str]:
    """The eligible agencies, in rank order."""
    return [o["provider"]["agency_id"] for o in options["options"] if o["eligible"]]


async def until_eligible(net: Network, case_id: str, ranked: list[str]) -> bool:
    """Wait until closure ranks exactly `ranked` (of this run's agencies) for the case: it
    has learned the services offered and the consents naming them."""
    held, _ = await eventually(
        lambda: options_of(net, case_id),
        lambda o: [a for a in eligible(o) if a.endswith(net.run)] == ranked,
        CLOSURE_WAIT_SECONDS,
    )
    return held


async def until_case(net: Network, case_id: str, holds: Any) -> tuple[bool, dict[str, Any]]:
    """Wait until closure's view of the case satisfies `holds`."""
    held, seen = await eventually(
        lambda: closure_case(net, case_id),
        lambda c: c is not None and bool(holds(c)),
        CLOSURE_WAIT_SECONDS,
    )
    return held, seen or {}


def short(agency_id: str | None) -> str:
    """An agency id without the run's suffix, for the report."""
    return (agency_id or "-").rsplit("-", 1)[0]


async def extend_network(desk: Desk, agencies: dict[str, Any], report: Reporter) -> Targets:
    """Two agencies join and Incheon offers more, so Mapo's clients have somewhere to go."""
    net, admin = desk.net, desk.net.admin()
    report.step(
        "18. The network grows: Seodaemun and Yeonhui join, Incheon adds housing, income and "
        "social-isolation services (directory admin API)"
    )
    incheon = agencies["incheon"]["id"]
    for domain in INCHEON_ADDS:
        service_id = f"incheon-{domain}-{net.run}"
        await offer_service(net, admin, incheon, "incheon", service_id, domain, domain, 3)
    staff: dict[str, dict[str, str]] = {}
    for key, agency in PARTNERS.items():
        aid = f"{key}-{net.run}"
        await register_agency(net, admin, aid, key, agency["name"], agency["region"])
        for domain in agency["services"]:
            await offer_service(
                net, admin, aid, key, f"{key}-{domain}-{net.run}", domain, domain, 5
            )
        manager = f"cm-{key}-{net.run}"
        await succeeded(
            net.directory.post(
                f"/agencies/{aid}/staff",
                headers=admin,
                json={
                    "staff_id": manager,
                    "name": key,
                    "role": "case_manager",
                    "caseload_limit": 5,
                    "department_id": f"{key}-casework",
                    "joined_on": "2024-01-02",
                },
            )
        )
        staff[key] = net.token(Role.CASE_MANAGER, aid, manager)
        report.step(f"   {aid}: {agency['name']}, services {', '.join(agency['services'])}")
    targets = Targets(
        incheon=incheon,
        seodaemun=f"seodaemun-{net.run}",
        yeonhui=f"yeonhui-{net.run}",
        incheon_staff=desk.partner,
        seodaemun_staff=staff["seodaemun"],
    )

    async def inboxes() -> list[int]:
        return [(await net.closure.get("/inbox", headers=h)).status_code for h in staff.values()]

    held, seen = await eventually(inboxes, lambda c: c == [200, 200], CLOSURE_WAIT_SECONDS)
    report.check(
        held,
        f"closure learned the new agencies' staff from caseline.directory.v1 and accepts their "
        f"tokens (inboxes answered {seen})",
    )
    return targets


async def consent_to_referral(
    desk: Desk, case_id: str, manager: dict[str, str], agencies: list[str]
) -> None:
    """R4: the client agrees that their case may be referred to these agencies."""
    await succeeded(
        desk.net.intake.post(
            f"/cases/{case_id}/consents",
            headers=manager,
            json={"agencies": agencies, "purposes": ["referral"], "valid_until": "2030-12-31"},
        )
    )
