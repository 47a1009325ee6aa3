"""`GET /metrics` of a service on the kit's runtime, read the way Prometheus reads it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from shared.envelope import Role
from shared.metrics import METRICS_CONTENT_TYPE, UNROUTED
from tests.harness import RunningService, eventually, running_service
from tests.kit_service import build as build_notes

NOTES_ROUTE = "/cases/{case_id}/notes"


@pytest.fixture
async def notes(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, schema_name: str
) -> AsyncIterator[RunningService]:
    async with running_service(
        lambda settings: build_notes(settings, topic=kafka_topic),
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        schema=schema_name,
        consumer_watch_seconds=0.2,
    ) as service:
        yield service


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(service: RunningService) -> tuple[str, Samples]:
    """The text of `/metrics` and every sample in it, parsed by prometheus-client's parser."""
    answer = await service.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == METRICS_CONTENT_TYPE
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return answer.text, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_count_a_command_and_show_the_relay_lag_back_at_zero(
    notes: RunningService,
) -> None:
    case = f"case-{uuid.uuid4().hex[:8]}"
    headers = await notes.as_member(Role.CASE_MANAGER, "agency-metrics", "staff-metrics")
    _, before = await scrape(notes)
    labels = {"service": "intake", "method": "POST", "route": NOTES_ROUTE, "status": "201"}
    assert value(before, "caseline_command_duration_seconds_count", **labels) is None

    answer = await notes.http.post(f"/cases/{case}/notes", json={"note": "met"}, headers=headers)
    assert answer.status_code == 201, answer.text

    text, after = await scrape(notes)
    assert value(after, "caseline_command_duration_seconds_count", **labels) == 1
    assert value(after, "caseline_command_duration_seconds_bucket", **labels, le="+Inf") == 1
    assert (value(after, "process_resident_memory_bytes") or 0) > 0
    topic = notes.app.state.runtime.relay.topic

    async def relay_lag() -> float | None:
        _, samples = await scrape(notes)
        return value(samples, "caseline_relay_lag_events", service="intake", topic=topic)

    await eventually(relay_lag, lambda lag: lag == 0, "published (relay lag 0)")
    # Route templates only: the case a request named never becomes a label.
    assert case not in text and "agency-metrics" not in text and "staff-metrics" not in text


async def test_metrics_show_each_consumers_lag_dead_letters_and_every_tasks_state(
    notes: RunningService, kafka_bootstrap: str
) -> None:
    consumer = "intake.notes"
    topic = notes.app.state.runtime.relay.topic
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not json", key=b"case-x")
    finally:
        await producer.stop()

    async def dead_lettered() -> float | None:
        _, samples = await scrape(notes)
        return value(
            samples, "caseline_dead_lettered_messages_total", service="intake", consumer=consumer
        )

    await eventually(dead_lettered, lambda count: count == 1, "dead-lettered once")
    _, samples = await eventually(
        lambda: scrape(notes),
        lambda scraped: (
            value(scraped[1], "caseline_consumer_lag_messages", service="intake", consumer=consumer)
            == 0
        ),
        "caught up (consumer lag 0)",
    )
    assert (
        value(
            samples,
            "caseline_consumer_messages_total",
            service="intake",
            consumer=consumer,
            outcome="dead-lettered",
        )
        == 1
    )
    timed = {"service": "intake", "consumer": consumer, "outcome": "dead-lettered"}
    assert value(samples, "caseline_consumer_message_duration_seconds_count", **timed) == 1
    for task, kind in ((f"relay:{topic}", "relay"), (f"consumer:{consumer}", "consumer")):
        task_labels = {"service": "intake", "task": task, "kind": kind}
        assert value(samples, "caseline_task_state", **task_labels, state="running") == 1
        assert value(samples, "caseline_task_state", **task_labels, state="retrying") == 0
        assert value(samples, "caseline_task_restarts_total", **task_labels) == 0


async def test_requests_answered_without_a_route_are_timed_without_their_path(
    notes: RunningService,
) -> None:
    case = f"case-{uuid.uuid4().hex[:8]}"
    refused = await notes.http.post(f"/cases/{case}/notes", json={"note": "no token"})
    assert refused.status_code == 401
    missing = await notes.http.get(f"/no-such-route/{case}")
    assert missing.status_code == 404

    text, samples = await scrape(notes)
    guarded = {"service": "intake", "method": "POST", "route": UNROUTED, "status": "401"}
    assert value(samples, "caseline_command_duration_seconds_count", **guarded) == 1
    unknown = {"service": "intake", "method": "GET", "route": UNROUTED, "status": "404"}
    assert value(samples, "caseline_query_duration_seconds_count", **unknown) == 1
    assert case not in text and "no-such-route" not in text
