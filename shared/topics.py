"""The caseline Kafka topics, and creating them on any broker (local, compose or tests)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from shared.envelope import is_service_name

DLQ_TOPIC = "caseline.dlq.v1"
"""Messages that could not be processed, with the reason and the original bytes."""

# Broker error codes that mean "fine" when creating a topic.
_NO_ERROR = 0
_TOPIC_ALREADY_EXISTS = 36

log = logging.getLogger(__name__)


def topic_for(service: str, namespace: str | None = None) -> str:
    """Return the topic a service publishes to: `caseline.<service>.v1`, or in a namespace
    (`Settings.topic_namespace`) `caseline.<namespace>-<service>.v1`."""
    if not is_service_name(service):
        raise ValueError(f"not a caseline service name: {service!r}")
    return f"caseline.{namespace}-{service}.v1" if namespace else f"caseline.{service}.v1"


def topics_for(services: Iterable[str]) -> tuple[str, ...]:
    """Every topic a network of these services uses: one per service, then the dead letters.

    The kit knows no list of services; the `caseline` command passes the ones it finds
    (`caseline.catalog.all_topics`)."""
    return (*(topic_for(s) for s in services), DLQ_TOPIC)


class TopicSetupError(RuntimeError):
    """The broker refused to create a topic, or did not make it usable in time."""


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 3,
    *,
    replication_factor: int = 1,
    timeout: float = 60.0,
) -> None:
    """Create the topics that are missing and wait until every partition has a leader."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    wanted = sorted(set(topics))
    if not wanted:
        return
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=_request_timeout_ms(deadline)
        )
        try:
            await admin.start()
            await _create_missing(admin, wanted, partitions, replication_factor)
            not_ready = await _not_ready(admin, wanted)
            if not not_ready:
                return
            last_problem = "no leader yet for " + ", ".join(not_ready)
        except _RetryTopics as retry:
            last_problem = str(retry)
        except (KafkaError, OSError, TimeoutError) as exc:
            # A broker that has just started may refuse metadata or admin requests for a
            # moment (no controller yet, not unfenced yet): try again until the deadline.
            last_problem = f"{type(exc).__name__}: {exc}"
        finally:
            await admin.close()
        log.debug("topics not ready on %s: %s", bootstrap, last_problem)
        await asyncio.sleep(0.5)
    raise TopicSetupError(
        f"topics {', '.join(wanted)} not ready on {bootstrap} after {timeout:.0f} s: {last_problem}"
    )


class _RetryTopics(Exception):
    """A transient answer from the broker: ask again shortly."""


def _request_timeout_ms(deadline: float) -> int:
    """Per-request timeout: what is left of the deadline, within sane bounds."""
    left = deadline - time.monotonic()
    return int(min(max(left, 1.0), 15.0) * 1000)


async def _create_missing(
    admin: Any, wanted: list[str], partitions: int, replication_factor: int
) -> None:
    """Ask the controller to create the wanted topics the broker does not list yet."""
    from aiokafka.admin import NewTopic
    from aiokafka.errors import for_code

    existing = set(await admin.list_topics())
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return
    response = await admin.create_topics(
        [NewTopic(name, partitions, replication_factor) for name in missing]
    )
    transient: list[str] = []
    for entry in response.topic_errors:
        # (topic, error_code) in v0 of the response, (topic, error_code, message) later.
        name, code = str(entry[0]), int(entry[1])
        message = str(entry[2]) if len(entry) > 2 and entry[2] else ""
        if code in (_NO_ERROR, _TOPIC_ALREADY_EXISTS):
            continue
        error = for_code(code)
        detail = f"{name}: {error.__name__} ({code}) {message}".strip()
        if getattr(error, "retriable", False):
            transient.append(detail)
        else:
            raise TopicSetupError(f"the broker refused to create topic {detail}")
    if transient:
        raise _RetryTopics("; ".join(transient))


async def _not_ready(admin: Any, wanted: list[str]) -> list[str]:
    """Return the wanted topics that are unknown or have a partition without a leader."""
    described = await admin.describe_topics(wanted)
    ready: set[str] = set()
    for topic in described:
        partitions = topic.get("partitions") or []
        if (
            topic.get("error_code") == _NO_ERROR
            and partitions
            and all(
                p.get("error_code") == _NO_ERROR and p.get("leader", -1) >= 0 for p in partitions
            )
        ):
            ready.add(str(topic.get("topic")))
    return [name for name in wanted if name not in ready]
