"""Tokens are checked against the directory: only active members of active agencies act.

A signed, unexpired token is not enough. Each service keeps the members it learned from
`caseline.directory.v1` and refuses (401) a token whose holder left, was never registered,
holds another role, or belongs to a closed or unregistered agency; a departure or closure
takes effect as soon as the service's consumer has applied it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.directory.application.handlers import agency_today
from shared.envelope import Role
from tests.integration.intake.conftest import (
    Agency,
    Network,
    directory_post,
    eventually,
    make_agency,
    unique,
)

CASELINE = Path(sys.executable).with_name("caseline")


async def _answers(net: Network, headers: dict[str, str], agency_id: str) -> tuple[int, int]:
    """What each service answers the same reader: intake's caseloads, the directory's agency."""
    intake = await net.intake.get(f"/agencies/{agency_id}/caseloads", headers=headers)
    directory = await net.directory.get(f"/agencies/{agency_id}", headers=headers)
    return intake.status_code, directory.status_code


def _refused_for(answer_detail: str, *private: str) -> None:
    """A refusal names no one: neither the staff id nor the agency id of the token."""
    for text in private:
        assert text not in answer_detail


async def test_r12_a_departed_case_manager_is_refused_once_the_departure_reached_the_services(
    network: Network, agency: Agency
) -> None:
    manager = agency.managers[0]
    token = agency.manager()
    opened = await network.intake.post("/cases", json={"source": "walk_in"}, headers=token)
    assert opened.status_code == 201, opened.text

    await directory_post(
        network,
        f"/agencies/{agency.agency_id}/staff/{manager}/depart",
        {"departed_on": agency_today().isoformat(), "reason": "moved to another agency"},
        expect=200,
    )
    # Through Kafka: the directory's relay publishes, each service's consumer applies.
    await eventually(
        lambda: _answers(network, token, agency.agency_id),
        lambda statuses: statuses == (401, 401),
        "refusing the departed manager's token on intake and the directory",
    )
    refused = await network.intake.post("/cases", json={"source": "walk_in"}, headers=token)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "the token's holder has left its agency"}
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    _refused_for(refused.text, manager, agency.agency_id)
    # Their colleagues go on.
    assert (await _answers(network, agency.supervisor_auth(), agency.agency_id)) == (200, 200)


async def test_a_staff_id_never_registered_is_refused_on_both_services(
    network: Network, agency: Agency
) -> None:
    ghost = network.auth(Role.CASE_MANAGER, agency.agency_id, unique("cm-ghost"))
    answer = await network.intake.post("/cases", json={"source": "walk_in"}, headers=ghost)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "the token's holder is not a registered member of its agency"
    assert await _answers(network, ghost, agency.agency_id) == (401, 401)


async def test_staff_of_an_unregistered_agency_are_refused(network: Network) -> None:
    stranger = network.auth(Role.CASE_MANAGER, unique("ag-unknown"), "cm-1")
    answer = await network.intake.post("/cases", json={"source": "walk_in"}, headers=stranger)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "the token's agency is not registered in the directory"


async def test_staff_of_a_closed_agency_are_refused_from_the_day_of_closure(
    network: Network,
) -> None:
    closing = await make_agency(network, {"cm-closing": 2})
    token = closing.manager()
    assert await _answers(network, token, closing.agency_id) == (200, 200)
    await directory_post(
        network,
        f"/agencies/{closing.agency_id}/close",
        {"closed_on": agency_today().isoformat(), "reason": "funding ended"},
        expect=200,
    )
    await eventually(
        lambda: _answers(network, token, closing.agency_id),
        lambda statuses: statuses == (401, 401),
        "refusing the closed agency's staff on intake and the directory",
    )
    refused = await network.intake.post("/cases", json={"source": "walk_in"}, headers=token)
    assert refused.json() == {"detail": "the token's agency is closed"}


async def test_a_token_whose_role_is_not_the_registered_role_is_refused(
    network: Network, agency: Agency
) -> None:
    # A case manager's token minted as a supervisor would let them override caseload limits.
    promoted = network.auth(Role.SUPERVISOR, agency.agency_id, agency.managers[0])
    answer = await network.intake.get(f"/agencies/{agency.agency_id}/caseloads", headers=promoted)
    assert answer.status_code == 401
    assert answer.json()["detail"] == (
        "the token's role is not the role its holder is registered with"
    )
    as_admin = network.auth(Role.NETWORK_ADMIN, agency.agency_id, agency.supervisor)
    registering = await network.directory.post(
        "/agencies",
        json={"agency_id": unique("ag"), "name": "Rogue", "region": "Seoul"},
        headers=as_admin,
    )
    assert registering.status_code == 401


async def test_a_network_admin_enrolled_by_caseline_enroll_works_on_both_services(
    network: Network,
) -> None:
    staff = unique("netadmin")
    command = [
        str(CASELINE),
        "enroll",
        "--staff",
        staff,
        "--role",
        "network_admin",
        "--name",
        "Network Administrator",
        "--schema",
        network.directory_schema,
    ]
    env = {**os.environ, "DATABASE_URL": network.settings.database_url}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"enrolled {staff} as network_admin" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing recorded" in again.stdout

    admin = network.auth(Role.NETWORK_ADMIN, "network", staff)
    await network.until_known("network", staff, Role.NETWORK_ADMIN)
    agency_id = unique("ag")
    registered = await network.directory.post(
        "/agencies", json={"agency_id": agency_id, "name": "New", "region": "Seoul"}, headers=admin
    )
    assert registered.status_code == 201, registered.text
    queue = await network.intake.get("/network/possible-duplicates", headers=admin)
    assert queue.status_code == 200, queue.text

    # An agency's staff are not enrolled this way.
    refused = subprocess.run(
        [*command[:4], "--role", "case_manager", *command[6:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0


async def test_a_network_member_who_left_is_refused_and_the_id_is_never_reused(
    network: Network,
) -> None:
    staff = unique("auditor")
    await directory_post(
        network,
        "/network/members",
        {
            "staff_id": staff,
            "name": "Auditor",
            "role": "auditor",
            "enrolled_on": agency_today().isoformat(),
        },
    )
    await network.until_known("network", staff, Role.AUDITOR)
    token = network.auth(Role.AUDITOR, "network", staff)
    assert (await network.directory.get("/agencies", headers=token)).status_code == 200
    await directory_post(
        network,
        f"/network/members/{staff}/leave",
        {"left_on": agency_today().isoformat(), "reason": "contract ended"},
        expect=200,
    )
    await eventually(
        lambda: network.directory.get("/agencies", headers=token),
        lambda answer: answer.status_code == 401,
        "refusing the auditor who left",
    )
    again = await network.directory.post(
        "/network/members",
        json={
            "staff_id": staff,
            "name": "Auditor",
            "role": "auditor",
            "enrolled_on": agency_today().isoformat(),
        },
        headers=network.network_admin(),
    )
    assert again.status_code == 409
    # Nobody registers the network itself as an agency.
    reserved = await network.directory.post(
        "/agencies",
        json={"agency_id": "network", "name": "Network", "region": "Seoul"},
        headers=network.network_admin(),
    )
    assert reserved.status_code == 409
