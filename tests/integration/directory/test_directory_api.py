"""The directory through HTTP: token -> command -> event store -> relay -> Kafka -> read model."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import asyncpg

from tests.integration.directory.conftest import (
    Directory,
    add_manager,
    add_member,
    assign,
    case_assigned,
    case_reassigned,
    case_screened_in,
    eventually,
    get_json,
    post,
    register,
    terminate,
    unique,
)

# Agencies are registered today; they close after, within the year the rules allow.
CLOSING_DAY = (date.today() + timedelta(days=30)).isoformat()
LATER_DAY = (date.today() + timedelta(days=60)).isoformat()


# --- the network, through the read model ---------------------------------------------------


async def test_an_administrator_builds_an_agency_and_every_reader_sees_it(
    directory: Directory,
) -> None:
    d = directory
    agency = await register(d, name="Mapo Community Welfare Centre", region="Seoul-Mapo")
    await post(
        d, f"/agencies/{agency}/departments", {"department_id": "housing", "name": "Housing"}
    )
    offered = await post(
        d,
        f"/agencies/{agency}/services",
        {
            "service_id": "shelter",
            "name": "Emergency shelter",
            "need_domain": "housing",
            "resource": "formal",
            "department_id": "housing",
            "capacity": 2,
        },
    )
    assert offered["stream_version"] == 3
    assert [e["event_type"] for e in offered["events"]] == ["ServiceOffered"]
    await post(
        d,
        f"/agencies/{agency}/services",
        {
            "service_id": "deposit-loans",
            "name": "Rent deposit loans",
            "need_domain": "housing",
            "resource": "formal",
            "capacity": 5,
        },
    )
    await add_manager(d, agency, "kim", limit=3)
    await post(
        d,
        f"/agencies/{agency}/staff",
        {"staff_id": "han", "name": "Han", "role": "supervisor", "joined_on": "2024-03-01"},
    )

    # R12: the deposit loans are full; three people wait.
    answer = await d.http.put(
        f"/agencies/{agency}/services/deposit-loans/capacity",
        json={"capacity": 0, "waiting_list": 3},
        headers=await add_member(d, agency, "mapo-admin", "agency_admin"),
    )
    assert answer.status_code == 200, answer.text

    view = await eventually(
        lambda: get_json(d, f"/agencies/{agency}"),
        lambda v: (
            v is not None
            and len(v["staff"]) == 3
            and any(s["waiting_list"] == 3 for s in v["services"])
        ),
        "showing the agency with its staff and the full service",
    )
    assert view["name"] == "Mapo Community Welfare Centre" and view["status"] == "active"
    assert view["departments"] == [{"department_id": "housing", "name": "Housing"}]
    services = {s["service_id"]: s for s in view["services"]}
    assert services["shelter"]["capacity"] == 2 and services["shelter"]["has_room"]
    assert (services["deposit-loans"]["capacity"], services["deposit-loans"]["waiting_list"]) == (
        0,
        3,
    )
    assert not services["deposit-loans"]["has_room"]

    # Who offers housing with room: the shelter, not the full loans.
    with_room = await get_json(d, "/services", need_domain="housing", with_room="true")
    assert [s["service_id"] for s in with_room if s["agency_id"] == agency] == ["shelter"]
    every_housing = await get_json(d, "/services", need_domain="housing", agency_id=agency)
    assert {s["service_id"] for s in every_housing} == {"shelter", "deposit-loans"}
    assert await get_json(d, "/services", need_domain="legal", agency_id=agency) == []

    # Which case managers have room: Kim, not the supervisor.
    staff = await get_json(d, "/staff", agency_id=agency, with_room="true")
    assert [(s["staff_id"], s["caseload"], s["room"]) for s in staff] == [("kim", 0, 3)]
    listed = await get_json(d, "/agencies", region="Seoul-Mapo")
    assert agency in {a["agency_id"] for a in listed}


async def test_r12_withdrawn_and_full_services_have_no_room(directory: Directory) -> None:
    d = directory
    agency = await register(d)
    for service, capacity in (("meals", 4), ("counselling", 1)):
        await post(
            d,
            f"/agencies/{agency}/services",
            {
                "service_id": service,
                "name": service.title(),
                "need_domain": "food" if service == "meals" else "mental_health",
                "resource": "informal" if service == "meals" else "formal",
                "capacity": capacity,
            },
        )
    await post(
        d, f"/agencies/{agency}/services/meals/withdraw", {"reason": "volunteers left"}, expect=200
    )
    unchanged = await d.http.put(
        f"/agencies/{agency}/services/counselling/capacity",
        json={"capacity": 1, "waiting_list": 0},
        headers=d.network_admin(),
    )
    assert unchanged.status_code == 200 and unchanged.json()["events"] == []

    view = await eventually(
        lambda: get_json(d, f"/agencies/{agency}"),
        lambda v: v is not None and any(s["status"] == "withdrawn" for s in v["services"]),
        "showing the withdrawn service",
    )
    assert {s["service_id"]: s["status"] for s in view["services"]} == {
        "meals": "withdrawn",
        "counselling": "offered",
    }
    offered = await get_json(d, "/services", agency_id=agency)
    assert [s["service_id"] for s in offered] == ["counselling"]


# --- caseloads from intake (R12) ----------------------------------------------------------


async def test_r12_caseloads_follow_intake_assignments_and_overload_is_visible(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency = await register(d)
    await add_manager(d, agency, "kim", limit=1)
    await add_manager(d, agency, "lee", limit=2)
    await eventually(
        lambda: get_json(d, "/staff", agency_id=agency, with_room="true"),
        lambda staff: len(staff) == 2,
        "listing both managers with room",
    )

    case_1, case_2 = unique("case"), unique("case")
    await assign(d, agency, case_screened_in(), case_assigned("kim", agency), case_id=case_1)
    # Past Kim's limit, with a supervisor's override: overload must show.
    await assign(d, agency, case_assigned("kim", agency, override=True), case_id=case_2)
    staff = await eventually(
        lambda: get_json(d, "/staff", agency_id=agency),
        lambda rows: any(s["staff_id"] == "kim" and s["caseload"] == 2 for s in rows),
        "counting Kim's two cases",
    )
    kim = next(s for s in staff if s["staff_id"] == "kim")
    assert (kim["caseload_limit"], kim["room"], kim["overloaded"]) == (1, 0, True)
    with_room = await get_json(d, "/staff", agency_id=agency, with_room="true")
    assert [s["staff_id"] for s in with_room] == ["lee"]

    # One case moves to Lee: Kim is back at the limit, Lee has one place left.
    await assign(d, agency, case_reassigned("kim", "lee"), case_id=case_2)
    staff = await eventually(
        lambda: get_json(d, "/staff", agency_id=agency),
        lambda rows: any(s["staff_id"] == "lee" and s["caseload"] == 1 for s in rows),
        "moving the case to Lee",
    )
    loads = {s["staff_id"]: (s["caseload"], s["room"], s["overloaded"]) for s in staff}
    assert loads == {"kim": (1, 0, False), "lee": (1, 1, False)}

    # Raising Kim's limit gives room again.
    answer = await d.http.put(
        f"/agencies/{agency}/staff/kim/caseload-limit",
        json={"caseload_limit": 4},
        headers=d.network_admin(),
    )
    assert answer.status_code == 200, answer.text
    with_room = await eventually(
        lambda: get_json(d, "/staff", agency_id=agency, with_room="true"),
        lambda rows: len(rows) == 2,
        "giving Kim room under the new limit",
    )
    # The least loaded first: Kim carries 1 of 4, Lee 1 of 2.
    assert [(s["staff_id"], s["room"]) for s in with_room] == [("kim", 3), ("lee", 1)]

    # The intake event the directory does not use changed nothing and went to no DLQ.
    dead = await pg_pool.fetchval(f'SELECT count(*) FROM "{d.schema}".dead_lettered_messages')
    assert dead == 0


async def test_r12_a_case_closure_ended_leaves_its_managers_caseload_whenever_it_is_read(
    directory: Directory,
) -> None:
    d = directory
    agency = await register(d)
    await add_manager(d, agency, "kim", limit=3)
    kept, ended, ended_first = unique("case"), unique("case"), unique("case")
    for case_id in (kept, ended):
        await assign(d, agency, case_assigned("kim", agency), case_id=case_id)
    await eventually(
        lambda: get_json(d, "/staff", agency_id=agency),
        lambda rows: [s["caseload"] for s in rows] == [2],
        "counting Kim's two cases",
    )

    await terminate(d, agency, "kim", case_id=ended)
    # Closure's topic and intake's are read apart: a termination read before the case's
    # assignment must still keep the case out of the count once the assignment arrives.
    await terminate(d, agency, "kim", case_id=ended_first)
    await eventually(
        lambda: d.pool.fetchval(
            "SELECT count(*) FROM case_endings WHERE case_id = $1", ended_first
        ),
        lambda n: n == 1,
        "the early termination read",
    )
    await assign(d, agency, case_assigned("kim", agency), case_id=ended_first)
    await eventually(
        lambda: d.pool.fetchval("SELECT count(*) FROM caseloads WHERE case_id = $1", ended_first),
        lambda n: n == 1,
        "the late assignment read",
    )
    staff = await eventually(
        lambda: get_json(d, "/staff", agency_id=agency),
        lambda rows: [s["caseload"] for s in rows] == [1],
        "Kim carrying the one case still open",
    )
    assert (staff[0]["room"], staff[0]["overloaded"]) == (2, False)


# --- departure and closure --------------------------------------------------------------------


async def test_a_departed_manager_has_no_room_and_is_listed_as_departed(
    directory: Directory,
) -> None:
    d = directory
    agency = await register(d)
    await add_manager(d, agency, "park", limit=5)
    await post(
        d,
        f"/agencies/{agency}/staff/park/depart",
        {"departed_on": "2025-05-30", "reason": "moved to another city"},
        expect=200,
    )
    staff = await eventually(
        lambda: get_json(d, "/staff", agency_id=agency, include_departed="true"),
        lambda rows: bool(rows) and rows[0]["status"] == "departed",
        "showing Park as departed",
    )
    assert staff[0]["departed_on"] == "2025-05-30" and staff[0]["room"] == 0
    assert await get_json(d, "/staff", agency_id=agency, with_room="true") == []
    assert await get_json(d, "/staff", agency_id=agency) == []

    again = await d.http.post(
        f"/agencies/{agency}/staff/park/depart",
        json={"departed_on": "2025-06-01", "reason": "again"},
        headers=d.network_admin(),
    )
    assert again.status_code == 409
    assert "departed on 2025-05-30" in again.json()["detail"]


async def test_a_closed_agency_offers_nothing_and_refuses_a_second_closure(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency = await register(d)
    await add_manager(d, agency, "yoon", limit=5)
    await post(
        d,
        f"/agencies/{agency}/services",
        {
            "service_id": "care",
            "name": "Home care",
            "need_domain": "daily_living_care",
            "resource": "formal",
            "capacity": 3,
        },
    )
    closed = await post(
        d, f"/agencies/{agency}/close", {"closed_on": CLOSING_DAY, "reason": "merged"}, expect=200
    )
    assert closed["status"] == "closed"
    written = await d.events_of(pg_pool, agency)

    twice = await d.http.post(
        f"/agencies/{agency}/close",
        json={"closed_on": LATER_DAY, "reason": "again"},
        headers=d.network_admin(),
    )
    assert twice.status_code == 409
    assert f"closed on {CLOSING_DAY}" in twice.json()["detail"]
    assert await d.events_of(pg_pool, agency) == written

    view = await eventually(
        lambda: get_json(d, f"/agencies/{agency}"),
        lambda v: v is not None and v["status"] == "closed",
        "showing the agency as closed",
    )
    assert view["closed_on"] == CLOSING_DAY and view["closure_reason"] == "merged"
    assert await get_json(d, "/services", agency_id=agency) == []
    assert await get_json(d, "/staff", agency_id=agency, with_room="true") == []


async def test_two_administrators_racing_on_one_agency_one_wins_the_other_gets_409(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency = await register(d)
    answers = await asyncio.gather(
        *(
            d.http.post(
                f"/agencies/{agency}/close",
                json={"closed_on": CLOSING_DAY, "reason": f"closure {n}"},
                headers=d.network_admin(),
            )
            for n in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert await d.events_of(pg_pool, agency) == 2


# --- who may do what -----------------------------------------------------------------------


async def test_only_administrators_change_the_directory(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency, other = await register(d), await register(d)
    url = f"/agencies/{agency}/departments"
    body = {"department_id": "legal", "name": "Legal aid"}

    no_token = await d.http.post(url, json=body)
    assert no_token.status_code == 401
    bad_token = await d.http.post(url, json=body, headers={"Authorization": "Bearer nonsense"})
    assert bad_token.status_code == 401
    as_manager = await add_member(d, agency, "cm-1", "case_manager")
    as_agency_admin = await add_member(d, agency, "adm-1", "agency_admin")
    as_other_admin = await add_member(d, other, "adm-2", "agency_admin")
    events_before = await d.events_of(pg_pool, agency)
    manager = await d.http.post(url, json=body, headers=as_manager)
    assert manager.status_code == 403
    other_admin = await d.http.post(url, json=body, headers=as_other_admin)
    assert other_admin.status_code == 403
    assert other in other_admin.json()["detail"]
    assert await d.events_of(pg_pool, agency) == events_before  # nothing recorded

    own_admin = await d.http.post(url, json=body, headers=as_agency_admin)
    assert own_admin.status_code == 201, own_admin.text

    # Registering and closing agencies is for network administrators only.
    registering = await d.http.post(
        "/agencies",
        json={"agency_id": unique("ag"), "name": "Rogue", "region": "Busan"},
        headers=as_agency_admin,
    )
    assert registering.status_code == 403
    closing = await d.http.post(
        f"/agencies/{agency}/close",
        json={"closed_on": CLOSING_DAY, "reason": "self-closure"},
        headers=as_agency_admin,
    )
    assert closing.status_code == 403
    assert await d.events_of(pg_pool, agency) == events_before + 1

    # Reading needs a token, of any role.
    assert (await d.http.get("/services")).status_code == 401
    auditor = d.auditor()
    seen = await eventually(
        lambda: d.http.get(f"/agencies/{agency}", headers=auditor),
        lambda answer: answer.status_code == 200 and bool(answer.json()["departments"]),
        "showing the agency and its department to an auditor",
    )
    assert seen.json()["departments"] == [{"department_id": "legal", "name": "Legal aid"}]


# --- bad input and refusals ------------------------------------------------------------------


async def test_bad_input_gets_field_errors_and_writes_nothing(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency = await register(d)
    answer = await d.http.post(
        f"/agencies/{agency}/services",
        json={
            "service_id": "has space",
            "name": "",
            "need_domain": "astrology",
            "resource": "formal",
            "capacity": -1,
            "colour": "blue",
        },
        headers=d.network_admin(),
    )
    assert answer.status_code == 422
    fields = {tuple(e["loc"]) for e in answer.json()["detail"]}
    assert fields == {
        ("body", "service_id"),
        ("body", "name"),
        ("body", "need_domain"),
        ("body", "capacity"),
        ("body", "(unknown field)"),  # the name sent is never repeated
    }
    staff = await d.http.post(
        f"/agencies/{agency}/staff",
        json={"staff_id": "kim", "name": "Kim", "role": "janitor", "joined_on": "yesterday"},
        headers=d.network_admin(),
    )
    assert staff.status_code == 422
    assert {tuple(e["loc"]) for e in staff.json()["detail"]} == {
        ("body", "role"),
        ("body", "joined_on"),
    }
    assert await d.events_of(pg_pool, agency) == 1


async def test_rule_violations_get_409_with_the_reason_and_write_nothing(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency = await register(d)
    unknown = await d.http.post(
        f"/agencies/{agency}/services/nothing-here/withdraw",
        json={"reason": "cleanup"},
        headers=d.network_admin(),
    )
    assert unknown.status_code == 409
    assert unknown.json() == {
        "detail": f"agency {agency} offers no service nothing-here",
        "rule": None,
    }
    no_limit = await d.http.post(
        f"/agencies/{agency}/staff",
        json={
            "staff_id": "kim",
            "name": "Kim",
            "role": "case_manager",
            "caseload_limit": 0,
            "joined_on": "2025-01-02",
        },
        headers=d.network_admin(),
    )
    assert no_limit.status_code == 409
    assert no_limit.json()["rule"] == "R12"
    duplicate = await d.http.post(
        "/agencies",
        json={"agency_id": agency, "name": "Again", "region": "Seoul"},
        headers=d.network_admin(),
    )
    assert duplicate.status_code == 409
    never_registered = await d.http.post(
        f"/agencies/{unique('ag')}/departments",
        json={"department_id": "x", "name": "X"},
        headers=d.network_admin(),
    )
    assert never_registered.status_code == 409
    assert "not registered" in never_registered.json()["detail"]
    assert await d.events_of(pg_pool, agency) == 1

    missing = await d.http.get(f"/agencies/{unique('ag')}", headers=d.auditor())
    assert missing.status_code == 404
