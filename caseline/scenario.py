"""The demo's multi-agency scenario: a network in the directory, cases through intake, then
care planning and monitoring (`scenario_care`, `scenario_monitoring`), termination and
referral (`scenario_closure`, `scenario_agency_closure`), then the auditors and `caseline
verify`'s check.

The services run as they do in production, as `caseline serve` child processes talking to
the same Kafka and PostgreSQL, and the scenario drives them over HTTP with signed tokens.
Names and numbers below are made up.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from caseline.catalog import runnable_services
from caseline.network_run import run_at_scale
from caseline.processes import ServiceProcess, start_service
from caseline.scenario_agency_closure import verify_network
from caseline.scenario_care import PRIVATE_WORDS as PLAN_WORDS
from caseline.scenario_care import run_care, words_read_back
from caseline.scenario_closure import run_closure
from caseline.scenario_desk import CareCases
from caseline.scenario_http import (
    Network,
    Reporter,
    ScenarioError,
    checked,
    eventually,
    offer_service,
    register_agency,
    resident_number,
    succeeded,
)
from caseline.scenario_later import a_month_later, restart_ahead
from caseline.scenario_monitoring import PRIVATE_WORDS as MONITORING_WORDS
from caseline.scenario_monitoring import run_monitoring
from shared.envelope import Role
from shared.principals import NETWORK
from shared.settings import Settings, load_settings, secrets_of_a_run
from shared.store import EventStore

CARE_STORES = ("careplan", "monitoring")
"""The stores of the care stages whose events the auditors read beside intake's."""

SCHEDULER_SECONDS = "5"
"""The demo's services run their schedulers (monitoring's overdue pass, closure's fan-out and
referral pass) every few seconds instead of their production intervals, so a run's
departures and closures are acted on within it."""


@dataclass(frozen=True)
class Client:
    """A made-up person the scenario registers."""

    name: str
    birth_date: date
    serial: str
    phone: str
    address: str
    language: str = "ko"

    def registration(self) -> dict[str, str]:
        """The registration request body."""
        return {
            "name": self.name,
            "birth_date": self.birth_date.isoformat(),
            "resident_number": resident_number(self.birth_date, self.serial),
            "phone": self.phone,
            "address": self.address,
            "preferred_language": self.language,
        }


CLIENTS = [
    Client(
        "김하늘빛", date(1958, 3, 14), "12345", "010-2718-2818", "서울특별시 마포구 월드컵북로 400"
    ),
    Client(
        "Nguyen Thi Hoa",
        date(1987, 11, 2),
        "24680",
        "010-3141-5926",
        "서울특별시 마포구 망원로 12",
        language="vi",
    ),
    Client("박도윤", date(2001, 6, 30), "13579", "010-1618-0339", "서울특별시 마포구 성산로 77"),
    Client("최보람", date(1949, 1, 8), "11223", "010-1414-2135", "서울특별시 마포구 독막로 5"),
]


async def register(
    intake: httpx.AsyncClient, headers: dict[str, str], case_id: str, client: Client
) -> str:
    """Register the client, or, when intake finds them already registered (an earlier demo
    run on this database), take the returning-client path as a case manager would."""
    answer = await intake.post(
        f"/cases/{case_id}/registration", headers=headers, json=client.registration()
    )
    if answer.status_code == 409 and answer.json().get("possible_duplicates"):
        known = answer.json()["possible_duplicates"][0]
        body = {
            "client_id": known,
            "name": client.name,
            "birth_date": client.birth_date.isoformat(),
        }
        answer = await intake.post(f"/cases/{case_id}/returning-client", headers=headers, json=body)
    registered = checked(answer)
    client_id: str = registered["client_id"]
    return client_id


async def enroll_administrator(
    net: Network, env: dict[str, str], report: Reporter, label: str = "7."
) -> None:
    """Bootstrap: an operator enrolls the network administrator with `caseline enroll`."""
    report.step(
        f"{label} An operator enrolls the network administrator (caseline enroll, no token)"
    )
    enrolled = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "caseline.cli",
            "enroll",
            "--staff",
            net.admin_id,
            "--role",
            "network_admin",
            "--name",
            "Network Administrator",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if enrolled.returncode != 0:
        raise ScenarioError(f"caseline enroll: {enrolled.stderr.strip()}")

    async def answers() -> tuple[int, int]:
        directory = await net.directory.get("/agencies", headers=net.admin())
        intake = await net.intake.get("/network/possible-duplicates", headers=net.admin())
        return directory.status_code, intake.status_code

    held, seen = await eventually(answers, lambda statuses: statuses == (200, 200))
    report.check(
        held,
        f"both services learned {net.admin_id} from caseline.directory.v1 and accept its "
        f"token (directory, intake: {seen[0]}, {seen[1]}); an unregistered one gets 401",
    )
    stranger = net.token(Role.NETWORK_ADMIN, NETWORK, f"nobody-{net.run}")
    refused = await net.directory.get("/agencies", headers=stranger)
    report.check(
        refused.status_code == 401, f"a token of no registered member: {refused.status_code}"
    )


async def build_network(net: Network, report: Reporter) -> dict[str, Any]:
    """Register three agencies with departments, services and staff in the directory."""
    run, admin = net.run, net.admin()
    agencies: dict[str, Any] = {
        "mapo": {
            "id": f"mapo-{run}",
            "name": "마포종합사회복지관",
            "region": "Seoul",
            "services": [("housing", "주거지원", 2), ("income", "긴급생계지원", 3)],
            "managers": {"kim": 2, "lee": 1},
        },
        "busan": {
            "id": f"haeundae-{run}",
            "name": "해운대종합사회복지관",
            "region": "Busan",
            "services": [("daily_living_care", "재가돌봄", 0), ("food", "푸드뱅크", 10)],
            "managers": {"park": 3},
        },
        "incheon": {
            "id": f"incheon-mh-{run}",
            "name": "인천정신건강복지센터",
            "region": "Incheon",
            "services": [("mental_health", "정신건강상담", 5)],
            "managers": {"choi": 2},
        },
    }
    report.step("8. The directory registers a network of three agencies (admin HTTP API)")
    for key, agency in agencies.items():
        aid = agency["id"]
        await register_agency(net, admin, aid, key, agency["name"], agency["region"])
        for domain, name, places in agency["services"]:
            await offer_service(net, admin, aid, key, f"{key}-{domain}", name, domain, places)
            if places == 0:
                await succeeded(
                    net.directory.put(
                        f"/agencies/{aid}/services/{key}-{domain}/capacity",
                        headers=admin,
                        json={"capacity": 0, "waiting_list": 4},
                    )
                )
        agency["supervisor"] = f"sup-{key}-{run}"
        await succeeded(
            net.directory.post(
                f"/agencies/{aid}/staff",
                headers=admin,
                json={
                    "staff_id": agency["supervisor"],
                    "name": "팀장",
                    "role": "supervisor",
                    "joined_on": "2023-03-02",
                },
            )
        )
        agency["staff"] = {}
        for who, limit in agency["managers"].items():
            staff_id = f"cm-{who}-{run}"
            agency["staff"][who] = staff_id
            await succeeded(
                net.directory.post(
                    f"/agencies/{aid}/staff",
                    headers=admin,
                    json={
                        "staff_id": staff_id,
                        "name": who,
                        "role": "case_manager",
                        "caseload_limit": limit,
                        "department_id": f"{key}-casework",
                        "joined_on": "2024-01-02",
                    },
                )
            )
        report.step(
            f"   {aid}: {agency['name']} ({agency['region']}), "
            f"services {', '.join(d for d, _, _ in agency['services'])}; managers "
            + ", ".join(f"{w} (limit {n})" for w, n in agency["managers"].items())
        )

    async def with_room() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = await succeeded(
            net.directory.get("/services", params={"with_room": "true"}, headers=admin)
        )
        return [s for s in listed if s["agency_id"].endswith(run)]

    held, services = await eventually(with_room, lambda s: len(s) == 4)
    report.check(
        held,
        "read model (directory -> Kafka -> directory): 4 services with room; "
        "the full home-care service (waiting list 4, R12) is not offered",
    )
    for service in services:
        report.step(f"      {service['need_domain']:<18} {service['agency_id']}")

    async def rosters() -> dict[str, int]:
        # Every agency, not just Mapo: a consent may name only agencies intake knows, and
        # each agency's events reach intake on a partition of their own.
        known = {}
        for key, agency in agencies.items():
            member = net.token(
                Role.CASE_MANAGER, agency["id"], next(iter(agency["staff"].values()))
            )
            # Until both services learned the member, the token is refused (401).
            on_directory = await net.directory.get(f"/agencies/{agency['id']}", headers=member)
            answer = await net.intake.get(f"/agencies/{agency['id']}/caseloads", headers=member)
            if answer.status_code == 401 or on_directory.status_code == 401:
                known[key] = 0
                continue
            known[key] = len(checked(answer)["staff"])
        return known

    everyone = {key: len(agency["staff"]) + 1 for key, agency in agencies.items()}
    held, _ = await eventually(rosters, lambda known: known == everyone)
    report.check(
        held, "intake's roster learned the staff of the three agencies from caseline.directory.v1"
    )
    return agencies


async def run_intake(
    net: Network, agencies: dict[str, Any], report: Reporter
) -> tuple[list[str], str]:
    """Open, register, consent, screen, assess and assign cases; show the rules refusing.
    The assigned cases, and the case screened out (still open when Mapo closes)."""
    mapo = agencies["mapo"]
    kim, lee = mapo["staff"]["kim"], mapo["staff"]["lee"]
    manager = net.token(Role.CASE_MANAGER, mapo["id"], kim)
    supervisor = net.token(Role.SUPERVISOR, mapo["id"], mapo["supervisor"])
    intake = net.intake
    report.step(
        "9. Intake at Mapo: case finding, registration (PII vault), consent, screening, "
        "assessment, assignment"
    )
    cases: list[str] = []
    assign_to = [kim, kim, lee]
    for n, client in enumerate(CLIENTS[:3]):
        opened = await succeeded(
            intake.post(
                "/cases",
                headers=manager,
                json={"source": ["walk_in", "outreach", "self_referral"][n]},
            )
        )
        case_id = opened["case_id"]
        cases.append(case_id)
        await register(intake, manager, case_id, client)
        await succeeded(
            intake.post(
                f"/cases/{case_id}/consents",
                headers=manager,
                json={
                    "agencies": [mapo["id"], agencies["incheon"]["id"]],
                    "purposes": ["case_management", "referral"],
                    "valid_until": "2030-12-31",
                },
            )
        )
        await succeeded(
            intake.post(
                f"/cases/{case_id}/screening",
                headers=manager,
                json={
                    "outcome": "eligible",
                    "presenting_problems": ["housing", "income", "mental_health"],
                    "chronic": True,
                },
            )
        )
        await succeeded(
            intake.post(
                f"/cases/{case_id}/assessment",
                headers=manager,
                json={
                    "needs": [
                        {"domain": "housing", "severity": "high"},
                        {"domain": "mental_health", "severity": "moderate"},
                    ],
                    "strengths": ["family_support"],
                    "risks": [{"kind": "homelessness", "level": "high"}],
                    "crisis": n == 0,
                    "interpreter_needed": client.language != "ko",
                    "cultural_needs": "Vietnamese interpreter; halal meals"
                    if client.language != "ko"
                    else None,
                },
            )
        )
        await succeeded(
            intake.post(
                f"/cases/{case_id}/assignment", headers=manager, json={"staff_id": assign_to[n]}
            )
        )
        report.step(
            f"   {case_id}: {['walk-in', 'outreach', 'self-referral'][n]}, assessed"
            f"{' (crisis)' if n == 0 else ''}, assigned to {assign_to[n]}"
        )

    report.step("10. The rules refuse what they must (nothing written)")
    fresh = (await succeeded(intake.post("/cases", headers=manager, json={"source": "walk_in"})))[
        "case_id"
    ]
    early = await intake.post(
        f"/cases/{fresh}/assessment",
        headers=manager,
        json={"needs": [{"domain": "food", "severity": "low"}], "interpreter_needed": False},
    )
    report.check(
        early.status_code == 409 and early.json().get("rule") == "R1",
        f"R1: assessing before registration and screening is refused ({early.status_code})",
    )
    again = CLIENTS[0]
    duplicate = await intake.post(
        f"/cases/{fresh}/registration",
        headers=manager,
        json=again.registration(),
    )
    report.check(
        duplicate.status_code == 409,
        "a possible duplicate client is flagged before a second record is made",
    )
    client = CLIENTS[3]
    await register(intake, manager, fresh, client)
    await succeeded(
        intake.post(
            f"/cases/{fresh}/consents",
            headers=manager,
            json={
                "agencies": [mapo["id"]],
                "purposes": ["case_management"],
                "valid_until": "2030-12-31",
            },
        )
    )
    screened_out = await intake.post(
        f"/cases/{fresh}/screening",
        headers=manager,
        json={
            "outcome": "screened_out",
            "presenting_problems": ["food"],
            "reason": "single_simple_need",
            "information_and_referral": {
                "kind": "referred_to_service",
                "domains": ["food"],
                "referred_agency_id": agencies["busan"]["id"],
            },
        },
    )
    report.check(
        screened_out.is_success,
        "R2: a single simple need is screened out with an information-and-referral "
        "outcome (food bank at Haeundae), not dropped",
    )

    crowded = (await succeeded(intake.post("/cases", headers=manager, json={"source": "walk_in"})))[
        "case_id"
    ]
    cases.append(crowded)
    await succeeded(
        intake.post(
            f"/cases/{crowded}/returning-client",
            headers=manager,
            json={
                "client_id": (await succeeded(intake.get(f"/cases/{cases[0]}", headers=manager)))[
                    "client_id"
                ],
                "name": CLIENTS[0].name,
                "birth_date": CLIENTS[0].birth_date.isoformat(),
            },
        )
    )
    await succeeded(
        intake.post(
            f"/cases/{crowded}/consents",
            headers=manager,
            json={
                "agencies": [mapo["id"]],
                "purposes": ["case_management"],
                "valid_until": "2030-12-31",
            },
        )
    )
    await succeeded(
        intake.post(
            f"/cases/{crowded}/screening",
            headers=manager,
            json={"outcome": "eligible", "presenting_problems": ["income", "social_isolation"]},
        )
    )
    await succeeded(
        intake.post(
            f"/cases/{crowded}/assessment",
            headers=manager,
            json={"needs": [{"domain": "income", "severity": "high"}], "interpreter_needed": False},
        )
    )
    full = await intake.post(
        f"/cases/{crowded}/assignment", headers=manager, json={"staff_id": lee}
    )
    report.check(
        full.status_code == 409 and full.json().get("rule") == "R12",
        f"R12: {lee} is at the caseload limit; the assignment is refused",
    )
    override = await intake.post(
        f"/cases/{crowded}/assignment",
        headers=supervisor,
        json={"staff_id": lee, "override_reason": "continuity_with_the_client"},
    )
    report.check(override.is_success, "R12: the supervisor's recorded override assigns it")
    board = await succeeded(intake.get(f"/agencies/{mapo['id']}/caseloads", headers=manager))
    report.check(
        lee in board["overloaded"],
        f"overload is visible: overloaded {board['overloaded']}, "
        f"without room {board['without_room']}",
    )

    async def directory_loads() -> dict[str, int]:
        staff = await succeeded(
            net.directory.get("/staff", params={"agency_id": mapo["id"]}, headers=manager)
        )
        return {s["staff_id"]: s["caseload"] for s in staff}

    held, loads = await eventually(directory_loads, lambda d: d.get(kim) == 2 and d.get(lee) == 2)
    report.check(held, f"the directory counted the caseloads from caseline.intake.v1: {loads}")
    return cases, fresh


async def check_records(
    pool: asyncpg.Pool,
    labelled: Mapping[str, str],
    report: Reporter,
    private_words: Sequence[str] = (),
) -> None:
    """No personal data in the intake events, no words about a client in careplan's or
    monitoring's; every case's chain verifies in each store that holds it (closure's too)."""
    report.step("24. Auditors: words about people stay in the vaults, every chain verifies")
    cases = list(labelled.values())
    rows = await pool.fetch(
        "SELECT payload::text || metadata::text AS body FROM intake.events "
        "WHERE case_id = ANY($1::text[])",
        cases,
    )
    leaked = [c.name for c in CLIENTS for r in rows if c.name in r["body"] or c.phone in r["body"]]
    report.check(
        not leaked and bool(rows),
        f"{len(rows)} intake events hold no client name or phone in clear",
    )
    for service in CARE_STORES:
        rows = await pool.fetch(
            f"SELECT payload::text || metadata::text AS body FROM {service}.events "
            "WHERE case_id = ANY($1::text[])",
            cases,
        )
        said = [w for w in private_words for r in rows if w in r["body"]]
        report.check(
            not said and bool(rows),
            f"{len(rows)} {service} events hold no goal wording, helper's name, note or "
            "form answer in clear",
        )
    stores = {service: EventStore(pool, service) for service in ("intake", *CARE_STORES, "closure")}
    for label, case_id in labelled.items():
        chains = {service: await store.verify_case(case_id) for service, store in stores.items()}
        counts = ", ".join(f"{s} {c.events_checked}" for s, c in chains.items())
        report.check(
            all(c.ok and c.events_checked > 0 for c in chains.values()),
            f"{label} {case_id}: {counts} events; every chain verifies",
        )


def settings_of_a_run(database_url: str, bootstrap: str) -> Settings:
    """Settings for services a run starts on this stack, with signing and sealing secrets
    of this run only (never the public development ones)."""
    secrets = secrets_of_a_run()
    return load_settings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        token_secret=secrets["CASELINE_TOKEN_SECRET"],
        pii_kek=secrets["CASELINE_PII_KEK"],
        pii_index_key=secrets["CASELINE_PII_INDEX_KEY"],
    )


def service_env(settings: Settings) -> dict[str, str]:
    """The environment the demo's (and chaos run's) service processes start with."""
    return {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CASELINE_LOG_FORMAT": "json",
        "CASELINE_RELAY_POLL_SECONDS": "0.1",
        "CASELINE_SCHEDULER_SECONDS": SCHEDULER_SECONDS,
        "CASELINE_TOKEN_SECRET": settings.token_secret.get_secret_value(),
        "CASELINE_PII_KEK": settings.pii_kek.get_secret_value(),
        "CASELINE_PII_INDEX_KEY": settings.pii_index_key.get_secret_value(),
        # A demonstration network: /health says so, and its calendar may move (scenario_later).
        "CASELINE_TRAINING_NETWORK": "1",
    }


async def run_network_scenario(
    settings: Settings, pool: asyncpg.Pool, report: Reporter, log_dir: Path, size: str = "full"
) -> None:
    """Start every service the network has and run the network scenario against them."""
    env = service_env(settings)
    services: list[ServiceProcess] = []
    net: Network | None = None

    async def move_calendar(days: int) -> None:
        """Restart every service on its port with the agencies' calendar `days` ahead (the
        whole network agrees on one today; logs in `log_dir/ahead-<days>/`)."""
        services[:] = await restart_ahead(services, env, log_dir, days)

    try:
        for name in runnable_services():
            services.append(start_service(name, env, log_dir))
        for service in services:
            await service.wait_healthy()
        urls = {service.service: service.url for service in services}
        listed = ", ".join(f"{name} {url}" for name, url in urls.items())
        report.step(f"   services: {listed} (logs in {log_dir})")
        net = Network(settings, uuid.uuid4().hex[:6], urls)
        await enroll_administrator(net, env, report)
        agencies = await build_network(net, report)
        cases, screened_out = await run_intake(net, agencies, report)
        care = CareCases(*cases)
        desk = await run_care(net, agencies, care, report)
        form_id = await run_monitoring(desk, care, pool, report)
        # Read back while Mapo's staff may still act: from its closure on, they may not.
        report.step("16. Careplan's vault gives the goals' wording back to the case's manager")
        await words_read_back(desk, care, report)
        await a_month_later(move_calendar, desk, care, form_id, report)
        await run_closure(desk, agencies, care, screened_out, report, move_calendar)
        await check_records(pool, care.labelled(), report, (*PLAN_WORDS, *MONITORING_WORDS))
        await run_at_scale(net, size, report, move_calendar)
        await verify_network(settings, pool, report)
    finally:
        if net is not None:
            await net.close()
        for service in services:
            service.stop()
