"""The faults `caseline chaos` causes: service processes killed, the broker and the database
restarted, and poison messages published to the services' topics.

Every service is killed at least twice (SIGKILL, no chance to finish anything) and started
again on its port at once; the broker is killed and started once, PostgreSQL restarted
once in immediate mode (its crash recovery runs). The order is shuffled from a seed, so a
run can be repeated.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from caseline.infra.private_stack import PrivateStack
from caseline.processes import ServiceProcess, start_service
from shared.topics import topic_for

KILLS_PER_SERVICE = 2
SERVICE_HEALTHY_SECONDS = 120.0


@dataclass(frozen=True)
class Fault:
    """One fault caused: what, when (seconds into the run), and how long until it answered."""

    target: str
    at: float
    recovered_after: float


def fault_plan(services: list[str], rng: random.Random) -> list[str]:
    """Each service `KILLS_PER_SERVICE` times in a shuffled order, with one restart of the
    broker a third of the way in and one of PostgreSQL two thirds of the way in."""
    plan = [name for name in services for _ in range(KILLS_PER_SERVICE)]
    rng.shuffle(plan)
    plan.insert(len(plan) // 3, "kafka")
    plan.insert(2 * len(plan) // 3, "postgres")
    return plan


@dataclass
class Monkey:
    """Causes the planned faults one after another, `every` seconds apart."""

    stack: PrivateStack
    services: dict[str, ServiceProcess]
    env: dict[str, str]
    log_dir: Path
    plan: list[str]
    every: float
    on_fault: Callable[[Fault], None] = lambda fault: None
    faults: list[Fault] = field(default_factory=list)
    _lives: int = 0

    async def run(self) -> None:
        """Every planned fault; each waits until what it hit answers again."""
        started = time.monotonic()
        for target in self.plan:
            await asyncio.sleep(self.every)
            at = time.monotonic()
            if target == "kafka":
                await self.stack.kill_kafka()
                await self.stack.start_kafka()
            elif target == "postgres":
                await self.stack.restart_postgres("immediate")
            else:
                await self._kill_and_restart(target)
            fault = Fault(target, at - started, time.monotonic() - at)
            self.faults.append(fault)
            self.on_fault(fault)

    async def _kill_and_restart(self, name: str) -> None:
        """SIGKILL the service's process, start it again on its port, wait until healthy."""
        old = self.services[name]
        old.process.kill()
        await asyncio.to_thread(old.process.wait)
        self._lives += 1
        new = start_service(name, self.env, self.log_dir / f"life-{self._lives}", port=old.port)
        self.services[name] = new
        await new.wait_healthy(SERVICE_HEALTHY_SECONDS)


@dataclass(frozen=True)
class Poison:
    """A message no consumer can apply, published on purpose: its id, topic and flaw."""

    event_id: str
    topic: str
    flaw: str


def _headers(event_id: str, service: str, event_type: str, key: str) -> list[tuple[str, bytes]]:
    pairs = {
        "ce_specversion": "1.0",
        "ce_id": event_id,
        "ce_source": f"/agencies/chaos-poison/{service}",
        "ce_type": f"caseline.{service}.{event_type}.v1",
        "ce_time": "2026-01-01T00:00:00Z",
        "ce_subject": key,
        "ce_partitionkey": key,
        "content-type": "application/json",
    }
    return [(name, value.encode()) for name, value in pairs.items()]


POISONS = (
    ("intake", "CaseAssigned", b"{this is not json", "not JSON"),
    ("closure", "CaseTerminated", json.dumps({"reason": 42}).encode(), "a payload of wrong shape"),
)
"""Types other services and projections read, so every consumer of them meets the poison."""


async def publish_poison(bootstrap: str) -> list[Poison]:
    """Publish each poison message once; what was published."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    published: list[Poison] = []
    try:
        for service, event_type, value, flaw in POISONS:
            event_id = str(uuid.uuid4())
            key = f"case-chaos-poison-{event_id[:8]}"
            topic = topic_for(service)
            await producer.send_and_wait(
                topic,
                value,
                key=key.encode(),
                headers=_headers(event_id, service, event_type, key),
            )
            published.append(Poison(event_id, topic, flaw))
    finally:
        await producer.stop()
    return published
