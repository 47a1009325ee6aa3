"""Projections running alone on the real Kafka and PostgreSQL, fed real contract events.

The app runs on a schema and topics of its own (`running_service`); its principals are
recorded straight into its members (no directory beside it). Each upstream service's events
are its contract classes, appended to an event store of that service in a schema of the
test's own and published by the kit's relay to the test's topic, exactly as the service
would publish them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.projections.bootstrap import Topics, build
from shared.application import CommandContext
from shared.envelope import Actor, DomainEvent, Role, registry
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore
from tests.harness import RunningService, running_service, unique_schema, unique_topic

AGENCY = "ag-proj-north"
PARTNER = "ag-proj-south"
MEMBERS: dict[str, tuple[str, Role]] = {
    "cm-north": (AGENCY, Role.CASE_MANAGER),
    "sup-north": (AGENCY, Role.SUPERVISOR),
    "adm-north": (AGENCY, Role.AGENCY_ADMIN),
    "sup-south": (PARTNER, Role.SUPERVISOR),
    "cm-south": (PARTNER, Role.CASE_MANAGER),
    "auditor-1": ("network", Role.AUDITOR),
    "netadmin-1": ("network", Role.NETWORK_ADMIN),
}
"""Who the running projections app knows: two agencies' staff and the network's members."""

UPSTREAM = ("intake", "careplan", "monitoring", "closure")


@dataclass
class Feed:
    """Event stores of the upstream services, each published by the kit's relay."""

    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topics: Topics
    stores: dict[str, EventStore] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)

    async def record(
        self,
        service: str,
        case_id: str,
        agency_id: str,
        events: Sequence[DomainEvent],
        role: Role = Role.CASE_MANAGER,
    ) -> None:
        """Append `events` to `service`'s stream of the case and publish them."""
        store = self.stores[service]
        context = CommandContext(agency_id=agency_id, actor=Actor(staff_id="staff", role=role))
        version = self.versions.get((service, case_id), 0)
        await store.append(case_id, version, [context.envelope(case_id, e) for e in events])
        self.versions[(service, case_id)] = version + len(events)
        await Relay(store, self.producer, topic=getattr(self.topics, service)).drain()


@dataclass(frozen=True)
class Projections:
    """The running app, its feed and its members' tokens."""

    served: RunningService
    feed: Feed

    def auth(self, staff_id: str) -> dict[str, str]:
        agency_id, role = MEMBERS[staff_id]
        return self.served.auth(role, agency_id, staff_id)


@pytest.fixture(scope="module")
async def projections(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Projections]:
    names = ("projections", *UPSTREAM, "directory")
    topics = Topics(**{name: unique_topic(name) for name in names})
    feed_schemas = {service: unique_schema(f"proj_{service}_feed") for service in UPSTREAM}
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        async with running_service(
            lambda settings: build(settings, topics=topics),
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            schema=unique_schema("projections"),
            # Its own topic is not created: projections publishes nothing and needs none.
            topics=tuple(getattr(topics, name) for name in (*UPSTREAM, "directory")),
            base_url="http://projections",
        ) as served:
            for staff_id, (agency_id, role) in MEMBERS.items():
                await served.as_member(role, agency_id, staff_id)
            feed = Feed(pg_pool, producer, topics)
            for service, schema in feed_schemas.items():
                store = EventStore(pg_pool, service, schema=schema, events=registry)
                await store.migrate()
                feed.stores[service] = store
            yield Projections(served, feed)
    finally:
        await producer.stop()
        for schema in feed_schemas.values():
            await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
