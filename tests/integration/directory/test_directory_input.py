"""The directory refusing input it cannot keep or make sense of: a 422, nothing written."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from tests.integration.directory.conftest import Directory, add_manager, post, register

# NUL cannot be stored in PostgreSQL text; the others are control characters no name,
# region or reason holds; a lone surrogate cannot even be encoded as UTF-8.
UNKEEPABLE = ["\x00", "\x1b[31m", "\x7f", "\ud800"]


def bodies(agency: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, url, valid body, text field) of every command that takes free text."""
    return [
        ("post", "/agencies", {"agency_id": agency, "name": "n", "region": "r"}, "name"),
        ("post", "/agencies", {"agency_id": agency, "name": "n", "region": "r"}, "region"),
        (
            "post",
            f"/agencies/{agency}/departments",
            {"department_id": "d1", "name": "n"},
            "name",
        ),
        (
            "post",
            f"/agencies/{agency}/services",
            {
                "service_id": "s1",
                "name": "n",
                "need_domain": "housing",
                "resource": "formal",
                "capacity": 1,
            },
            "name",
        ),
        ("post", f"/agencies/{agency}/services/meals/withdraw", {"reason": "r"}, "reason"),
        (
            "post",
            f"/agencies/{agency}/staff",
            {"staff_id": "st1", "name": "n", "role": "supervisor", "joined_on": "2025-01-06"},
            "name",
        ),
        (
            "post",
            f"/agencies/{agency}/staff/kim/depart",
            {"departed_on": "2026-01-06", "reason": "r"},
            "reason",
        ),
        ("post", f"/agencies/{agency}/close", {"closed_on": "2099-01-01", "reason": "r"}, "reason"),
    ]


@pytest.mark.parametrize(
    "bad",
    UNKEEPABLE,
    ids=["nul", "escape", "delete", "surrogate"],
)
async def test_control_characters_in_any_text_field_are_a_422_and_write_nothing(
    directory: Directory, pg_pool: asyncpg.Pool, bad: str
) -> None:
    d = directory
    agency = await register(d)
    await post(
        d,
        f"/agencies/{agency}/services",
        {
            "service_id": "meals",
            "name": "Meals",
            "need_domain": "food",
            "resource": "informal",
            "capacity": 3,
        },
    )
    await add_manager(d, agency, "kim", limit=2)
    written = await d.events_of(pg_pool, agency)
    for method, url, body, field in bodies(agency):
        fresh = url == "/agencies"
        if fresh:
            body = {**body, "agency_id": f"{agency}-new"}
        # json.dumps escapes a lone surrogate as \ud800, the way a hostile client sends it.
        answer = await d.http.request(
            method,
            url,
            content=json.dumps({**body, field: f"a{bad}b"}),
            headers={**d.network_admin(), "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, f"{url} {field}: {answer.text}"
        assert [e["loc"] for e in answer.json()["detail"]] == [["body", field]], answer.text
        if fresh:
            assert await d.events_of(pg_pool, f"{agency}-new") == 0
    assert await d.events_of(pg_pool, agency) == written


@pytest.mark.parametrize("bad", UNKEEPABLE[:3], ids=["nul", "escape", "delete"])
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/agencies", "region"),
        ("/services", "region"),
        ("/services", "agency_id"),
        ("/staff", "agency_id"),
    ],
)
async def test_control_characters_in_a_query_parameter_are_a_422(
    directory: Directory, url: str, parameter: str, bad: str
) -> None:
    answer = await directory.http.get(
        url, params={parameter: f"Seoul{bad}"}, headers=directory.auditor()
    )
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", parameter]]


@pytest.mark.parametrize("bad", [True, "3", 3.0, None], ids=["bool", "string", "float", "null"])
async def test_counts_are_whole_json_numbers_not_bools_or_strings(
    directory: Directory, pg_pool: asyncpg.Pool, bad: object
) -> None:
    """R12: `capacity: true` is not one open place; a count is a JSON integer or a 422."""
    d = directory
    agency = await register(d)
    await post(
        d,
        f"/agencies/{agency}/services",
        {
            "service_id": "meals",
            "name": "Meals",
            "need_domain": "food",
            "resource": "informal",
            "capacity": 3,
        },
    )
    await add_manager(d, agency, "kim", limit=2)
    written = await d.events_of(pg_pool, agency)
    service = {
        "service_id": "shelter",
        "name": "Shelter",
        "need_domain": "housing",
        "resource": "formal",
        "capacity": 1,
    }
    staff = {"staff_id": "lee", "name": "Lee", "role": "case_manager", "joined_on": "2025-01-06"}
    attempts = [
        ("post", f"/agencies/{agency}/services", {**service, "capacity": bad}, "capacity"),
        (
            "put",
            f"/agencies/{agency}/services/meals/capacity",
            {"capacity": bad, "waiting_list": 0},
            "capacity",
        ),
        (
            "put",
            f"/agencies/{agency}/services/meals/capacity",
            {"capacity": 0, "waiting_list": bad},
            "waiting_list",
        ),
        ("post", f"/agencies/{agency}/staff", {**staff, "caseload_limit": bad}, "caseload_limit"),
        (
            "put",
            f"/agencies/{agency}/staff/kim/caseload-limit",
            {"caseload_limit": bad},
            "caseload_limit",
        ),
    ]
    for method, url, body, field in attempts:
        answer = await d.http.request(method, url, json=body, headers=d.network_admin())
        if bad is None and url.endswith("/staff"):
            # A case manager without a limit is the domain's refusal (R12), not the schema's.
            assert answer.status_code == 409, answer.text
            continue
        assert answer.status_code == 422, f"{url} {field}={bad!r}: {answer.text}"
        assert [e["loc"][:2] for e in answer.json()["detail"]] == [["body", field]], answer.text
    assert await d.events_of(pg_pool, agency) == written


async def test_a_joining_in_9999_and_a_closure_in_year_one_are_refused_and_write_nothing(
    directory: Directory, pg_pool: asyncpg.Pool
) -> None:
    d = directory
    agency = await register(d)
    written = await d.events_of(pg_pool, agency)
    joining = await d.http.post(
        f"/agencies/{agency}/staff",
        json={"staff_id": "lee", "name": "Lee", "role": "supervisor", "joined_on": "9999-12-31"},
        headers=d.network_admin(),
    )
    assert joining.status_code == 409 and "more than a year ahead" in joining.text
    closing = await d.http.post(
        f"/agencies/{agency}/close",
        json={"closed_on": "0001-01-01", "reason": "typo"},
        headers=d.network_admin(),
    )
    assert closing.status_code == 409 and "it was registered on" in closing.text
    assert await d.events_of(pg_pool, agency) == written


async def test_an_id_made_of_a_resident_or_phone_number_is_a_422_that_never_repeats_it(
    directory: Directory,
) -> None:
    """Found by the fuzzer: `no agency 9511232497053 in the directory`, and 409s naming it."""
    agency = await register(directory)
    admin = directory.network_admin()
    for number in ("951123-2497053", "9511232497053", "010-1234-5678", "svc-01012345678"):
        asked = [
            await directory.http.get(f"/agencies/{number}", headers=admin),
            await directory.http.post(
                "/agencies", json={"agency_id": number, "name": "n", "region": "r"}, headers=admin
            ),
            await directory.http.post(
                f"/agencies/{number}/departments",
                json={"department_id": "d1", "name": "n"},
                headers=admin,
            ),
            await directory.http.post(
                f"/agencies/{agency}/departments",
                json={"department_id": number, "name": "n"},
                headers=admin,
            ),
            await directory.http.post(
                f"/agencies/{agency}/services/{number}/withdraw",
                json={"reason": "r"},
                headers=admin,
            ),
            await directory.http.put(
                f"/agencies/{agency}/staff/{number}/caseload-limit",
                json={"caseload_limit": 2},
                headers=admin,
            ),
        ]
        for answer in asked:
            assert answer.status_code == 422, answer.text
            assert number not in answer.text and number[-7:] not in answer.text
