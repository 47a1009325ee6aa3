"""The shared service runtime: HTTP command -> event store -> relay -> Kafka -> consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.envelope import Role
from shared.settings import Settings
from tests.harness import bearer, eventually, running_service
from tests.kit_service import build as build_notes


@pytest.fixture
async def client(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, schema_name: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    async with running_service(
        lambda settings: build_notes(settings, topic=kafka_topic),
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        schema=schema_name,
        base_url="http://intake",
    ) as notes:
        # The notes service has no directory: its members are recorded straight into the
        # kit's principals projection that every service keeps.
        await notes.as_member(Role.CASE_MANAGER, "agency-test", "staff-1")
        await notes.as_member(Role.AUDITOR, "network", "auditor-1")
        yield notes.http, notes.settings


def _auth(
    settings: Settings,
    role: Role = Role.CASE_MANAGER,
    agency_id: str = "agency-test",
    staff_id: str = "staff-1",
) -> dict[str, str]:
    return bearer(settings, role, agency_id, staff_id)


async def test_a_command_travels_from_http_through_kafka_to_a_consumer(
    client: tuple[httpx.AsyncClient, Settings], pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    http, settings = client
    case = f"case-{uuid.uuid4().hex[:8]}"
    answer = await http.post(
        f"/cases/{case}/notes", json={"note": "first visit"}, headers=_auth(settings)
    )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"version": 1}

    seen = await eventually(
        lambda: pg_pool.fetch(f'SELECT note FROM "{schema_name}".notes_seen'), what="applied"
    )
    assert [r["note"] for r in seen] == ["first visit"]
    health = (await http.get("/health")).json()
    assert health["relay"]["lag"] == 0 and health["schema"] == schema_name


async def test_refusals_map_to_http_statuses_and_write_nothing(
    client: tuple[httpx.AsyncClient, Settings], pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    http, settings = client
    case = "case-limits"
    url = f"/cases/{case}/notes"
    assert (await http.post(url, json={"note": "x"})).status_code == 401
    auditor = _auth(settings, Role.AUDITOR, "network", "auditor-1")
    wrong_role = await http.post(url, json={"note": "x"}, headers=auditor)
    assert wrong_role.status_code == 403
    # A signed token for a role its holder is not registered with has no standing at all.
    not_theirs = await http.post(url, json={"note": "x"}, headers=_auth(settings, Role.SUPERVISOR))
    assert not_theirs.status_code == 401
    unknown = _auth(settings, staff_id="staff-unknown")
    assert (await http.post(url, json={"note": "x"}, headers=unknown)).status_code == 401
    invalid = await http.post(url, json={"note": ""}, headers=_auth(settings))
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "note"]
    for n in range(3):
        assert (await http.post(url, json={"note": f"n{n}"}, headers=_auth(settings))).is_success
    refused = await http.post(url, json={"note": "fourth"}, headers=_auth(settings))
    assert refused.status_code == 409
    assert refused.json() == {"detail": "a test case takes three notes at most", "rule": "T1"}
    count = await pg_pool.fetchval(
        f'SELECT count(*) FROM "{schema_name}".events WHERE case_id = $1', case
    )
    assert count == 3


async def test_two_concurrent_commands_on_one_case_one_wins_the_other_gets_409(
    client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = client
    url = "/cases/case-race/notes"
    answers = await asyncio.gather(
        *(
            http.post(url, json={"note": f"w{i}", "expected_version": 0}, headers=_auth(settings))
            for i in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409]


async def test_a_refused_body_is_never_echoed_in_the_422(
    client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = client
    secret = "주민번호 710909-1234567 " * 500  # far over the note's 200 characters
    answer = await http.post(
        "/cases/case-echo/notes", json={"note": secret}, headers=_auth(settings)
    )
    assert answer.status_code == 422
    assert "710909" not in answer.text and len(answer.content) < 1000
    assert answer.json()["detail"][0]["loc"] == ["body", "note"]


class CountingBody:
    """A request body streamed in 64 kB chunks, counting how many the service pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        sent = 0
        while sent < self.total:
            self.pulled += 1
            sent += len(chunk)
            yield chunk


async def test_a_huge_body_without_a_token_is_refused_401_before_it_is_read(
    client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, _ = client
    body = CountingBody(150 * 1024 * 1024)
    answer = await http.post(
        "/cases/case-big/notes",
        content=body,
        headers={"Content-Length": str(body.total), "Content-Type": "application/json"},
    )
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert body.pulled <= 1  # nothing of the 150 MB was read
    forged = await http.post(
        "/cases/case-big/notes",
        content=CountingBody(1024 * 1024),
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert forged.status_code == 401


async def test_a_body_over_the_limit_is_refused_413_with_or_without_a_declared_length(
    client: tuple[httpx.AsyncClient, Settings], pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    http, settings = client
    limit = settings.max_body_bytes
    declared = CountingBody(limit + 1)
    answer = await http.post(
        "/cases/case-413/notes",
        content=declared,
        headers={**_auth(settings), "Content-Length": str(declared.total)},
    )
    assert answer.status_code == 413 and declared.pulled <= 1
    chunked = CountingBody(4 * limit)  # no Content-Length: read only up to the limit
    answer = await http.post("/cases/case-413/notes", content=chunked, headers=_auth(settings))
    assert answer.status_code == 413
    assert chunked.pulled <= limit // 65536 + 2
    count = await pg_pool.fetchval(f'SELECT count(*) FROM "{schema_name}".events')
    assert count == 0
    small = await http.post(
        "/cases/case-413/notes", json={"note": "within the limit"}, headers=_auth(settings)
    )
    assert small.status_code == 201


async def test_a_422_repeats_neither_an_unknown_field_name_nor_a_value_quoted_in_a_message(
    client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = client
    answer = await http.post(
        "/cases/case-echo/notes",
        json={"note": "fine", "expected_version": "010-1234-5678", "900101-1234567": "x"},
        headers=_auth(settings),
    )
    assert answer.status_code == 422
    assert "1234567" not in answer.text and "5678" not in answer.text
    assert ["body", "(unknown field)"] in [e["loc"] for e in answer.json()["detail"]]


async def test_a_consumer_whose_subscriber_stopped_is_started_again_by_its_supervisor(
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    schema_name: str,
    pg_pool: asyncpg.Pool,
) -> None:
    async with running_service(
        lambda settings: build_notes(settings, topic=kafka_topic),
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        schema=schema_name,
        base_url="http://n",
        consumer_watch_seconds=1.0,
    ) as notes:
        http, app, settings = notes.http, notes.app, notes.settings
        await notes.as_member(Role.CASE_MANAGER, "agency-test", "staff-1")
        [watch] = app.state.runtime.watches
        await watch.subscriber.stop()  # as if its consume loop had ended for good

        async def consumer_task() -> dict[str, object]:
            tasks: dict[str, dict[str, object]] = (await http.get("/health")).json()["tasks"]
            return tasks["consumer:intake.notes"]

        task = await eventually(
            consumer_task,
            lambda task: task["state"] == "running" and bool(task["restarts"]),
            "started again",
            timeout=30,
        )
        assert task["restarts"] and "started again" in str(task["last_error"]), task
        assert task["state"] == "running"
        posted = await http.post(
            "/cases/case-restart/notes", json={"note": "after"}, headers=_auth(settings)
        )
        assert posted.status_code == 201
        seen = await eventually(
            lambda: pg_pool.fetchval(f'SELECT count(*) FROM "{schema_name}".notes_seen'),
            what="applied",
            timeout=10,
        )
        assert seen == 1


async def test_a_service_task_runs_under_the_supervisor_and_is_shown_on_health(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, schema_name: str
) -> None:
    import dataclasses

    from shared.service import Runtime, TaskSpec, create_service_app
    from shared.supervisor import TaskBody, TaskControl
    from tests.kit_service import notes_service

    rounds: list[str] = []

    def ticker(runtime: Runtime) -> TaskBody:
        async def body(control: TaskControl) -> None:
            while not control.stopping:
                rounds.append(runtime.schema)
                if len(rounds) == 2:
                    raise RuntimeError("a failing round is retried, not the end of the task")
                control.running()
                await asyncio.sleep(0.05)

        return body

    def build(settings: Settings) -> FastAPI:
        spec = dataclasses.replace(notes_service(kafka_topic), tasks=[TaskSpec("ticker", ticker)])
        return create_service_app(spec, settings)

    async with running_service(
        build, database_url=database_url, kafka_bootstrap=kafka_bootstrap, schema=schema_name
    ) as notes:
        await eventually(lambda: len(rounds) >= 4, what="the task's rounds after a failure")
        health = (await notes.http.get("/health")).json()
        task = health["tasks"]["scheduler:ticker"]
        assert task["state"] == "running" and task["restarts"] >= 1
        assert set(rounds) == {schema_name}
