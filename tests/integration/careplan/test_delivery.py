"""Careplan's events on Kafka and its consumers: published in order as CloudEvents, an intake
event redelivered applied once, and a careplan process stopped mid-run and started again on
its schema losing nothing: what intake recorded meanwhile is learned, what careplan had
recorded is still there and published."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.careplan.bootstrap import build as build_careplan
from shared.clock import agency_today
from shared.settings import Settings
from tests.harness import unique_schema
from tests.integration.careplan.conftest import (
    Stack,
    eventually,
    known_to_careplan,
    make_agency,
    through_intake,
)
from tests.integration.careplan.test_careplan_api import plan_body
from tests.integration.kafka_reading import read_topic

TODAY = agency_today()


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return bytes(value).decode() if value is not None else None
    return None


async def test_careplan_publishes_its_events_as_cloudevents_keyed_by_case(stack: Stack) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    drafted = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions", json=plan_body(), headers=home.manager()
    )
    assert drafted.status_code == 201, drafted.text
    bootstrap = stack.settings.kafka_bootstrap_servers

    async def mine() -> list[Any]:
        records = await read_topic(bootstrap, stack.topics.careplan, expect=1, timeout=2)
        return [r for r in records if r.key == case_id.encode()]

    records = await eventually(mine, lambda found: len(found) >= 1, "published")
    assert header(records[0], "ce_type") == "caseline.careplan.PlanVersionDrafted.v1"
    assert header(records[0], "ce_source") == f"/agencies/{home.agency_id}/careplan"
    assert b"\xec" not in records[0].value  # no Korean words: the goal's wording is in the vault


async def test_an_intake_event_delivered_twice_is_applied_once(stack: Stack) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    bootstrap = stack.settings.kafka_bootstrap_servers
    records = await read_topic(bootstrap, stack.topics.intake, expect=1, timeout=5)
    consents = [
        r
        for r in records
        if r.key == case_id.encode()
        and header(r, "ce_type") == "caseline.intake.ConsentRecorded.v1"
    ]
    assert len(consents) == 1
    pool = stack.careplan_app.state.runtime.pool
    consumers = stack.careplan_app.state.runtime.consumers
    facts = next(c for c in consumers if c.name.endswith(".facts"))
    before = await pool.fetchval("SELECT count(*) FROM client_consents")

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        again = consents[0]
        sent = await producer.send_and_wait(
            again.topic, again.value, key=again.key, headers=list(again.headers)
        )
    finally:
        await producer.stop()

    async def offsets() -> dict[tuple[str, int], int]:
        stored: dict[tuple[str, int], int] = await facts.stored_offsets()
        return stored

    await eventually(
        offsets,
        lambda found: found.get((sent.topic, sent.partition), -1) >= sent.offset,
        "the redelivered message consumed",
    )
    assert await pool.fetchval("SELECT count(*) FROM client_consents") == before
    duplicates = await pool.fetchval(
        "SELECT count(*) FROM processed_messages WHERE consumer = $1 AND event_id = $2",
        facts.name,
        uuid.UUID(header(again, "ce_id") or ""),
    )
    assert duplicates == 1


async def test_a_careplan_stopped_mid_run_and_started_again_loses_nothing(stack: Stack) -> None:
    schema = unique_schema("careplan_restart")
    home = await make_agency(stack)

    def careplan(settings: Settings) -> FastAPI:
        return build_careplan(settings, topics=stack.topics)

    try:
        async with stack.serve(
            careplan, schema=schema, base_url="http://c", drop_schema=False
        ) as first:
            http = first.http
            case_id, _ = await through_intake(home)
            pool = first.pool

            async def known() -> Any:
                return await pool.fetchval(
                    "SELECT assigned FROM case_facts WHERE case_id = $1", case_id
                )

            await eventually(known, lambda assigned: assigned is True, "learned")
            drafted = await http.post(
                f"/cases/{case_id}/plan-versions", json=plan_body(), headers=home.manager()
            )
            assert drafted.status_code == 201, drafted.text

        # While careplan is down, intake goes on: a second case is assigned.
        second_id, _ = await through_intake(home)

        async with stack.serve(careplan, schema=schema, base_url="http://c") as again:
            http = again.http
            pool = again.pool

            async def second_known() -> Any:
                return await pool.fetchval(
                    "SELECT assigned FROM case_facts WHERE case_id = $1", second_id
                )

            await eventually(second_known, lambda a: a is True, "learned after restart")
            view = (await http.get(f"/cases/{case_id}", headers=home.manager())).json()
            assert view["pending"] == 1
            agreed = await http.post(
                f"/cases/{case_id}/plan-versions/1/agreement",
                json={"agreed_on": TODAY.isoformat()},
                headers=home.manager(),
            )
            assert agreed.status_code == 200, agreed.text
            relay = again.app.state.runtime.relay

            async def lag() -> int:
                progress = await relay.progress(timeout=2)
                return int(progress.lag)

            await eventually(lag, lambda behind: behind == 0, "every event published")
            recorded = await pool.fetch(
                "SELECT event_type FROM events WHERE case_id = $1 ORDER BY stream_version",
                case_id,
            )
            assert [r["event_type"] for r in recorded] == [
                "PlanVersionDrafted",
                "PlanAgreed",
            ]
    finally:
        await stack.pg_pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
