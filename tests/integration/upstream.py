"""What a service under test reads from, without running the services that publish it.

A later service learns from its upstream services' topics. A test can run those services'
apps, or, when only their events matter, keep one real event store per upstream service and
publish its events with the kit's relay to the test's topic: the messages are the ones the
upstream service would publish (same store, codec and relay), from contract classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from services.directory.contract import NetworkMemberEnrolled
from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, Role
from shared.relay import Relay
from shared.store import EventStore
from tests.integration.members import until_known


@dataclass
class Clock:
    """The agencies' calendar as the app under test reads it (a test moves `day`)."""

    day: date

    def __call__(self) -> date:
        return self.day


@dataclass
class Upstream:
    """One upstream service's event store and the relay publishing it to its test topic."""

    store: EventStore
    relay: Relay

    async def record(self, stream: str, agency: str, *payloads: DomainEvent) -> None:
        """Append the events to `stream` and publish them."""
        actor = Actor(staff_id="upstream", role=Role.SYSTEM)
        version = await self.store.stream_version(stream)
        await self.store.append(
            stream,
            version,
            [
                Envelope(
                    metadata=EventMetadata(case_id=stream, agency_id=agency, actor=actor),
                    payload=p,
                )
                for p in payloads
            ],
        )
        await self.relay.drain()


async def enroll_auditor(directory: Upstream, pool: asyncpg.Pool) -> None:
    """The network's auditor `auditor-1`, enrolled through the directory's upstream store and
    known to the service whose pool is `pool` once its principals consumer has read it."""
    await directory.record(
        "network",
        "network",
        NetworkMemberEnrolled(
            staff_id="auditor-1", name="Auditor", role="auditor", enrolled_on=date(2025, 1, 1)
        ),
    )
    await until_known(pool, "network", "auditor-1", Role.AUDITOR)
