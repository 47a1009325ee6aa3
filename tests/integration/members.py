"""Principals for the integration tests: every token a test mints is for a registered member.

Services with a directory learn members from it (`enroll_in_directory`, then
`until_known`); the kit's test services have no directory and are seeded with the kit's own
record functions (`seed_member`).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

import asyncpg
import pytest

from services.directory.application.handlers import Directory, enroll
from services.directory.domain.events import NetworkRole
from shared import principals
from shared.envelope import Role
from shared.store import EventStore

WAIT_SECONDS = 20.0


async def enroll_in_directory(
    store: EventStore, staff_id: str, role: NetworkRole = "network_admin"
) -> None:
    """Enroll a network member through the directory's command path (as `caseline enroll`)."""
    await enroll(Directory.over(store), staff_id=staff_id, name=f"Member {staff_id}", role=role)


async def until_known(
    pool: asyncpg.Pool, agency_id: str, staff_id: str, role: Role, *, what: str = ""
) -> None:
    """Wait until the service whose pool this is grants the member standing (its consumer
    has applied the directory's event), or fail."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        reason = await principals.standing(pool, agency_id, staff_id, role)
        if reason is None:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"after {WAIT_SECONDS:.0f} s {staff_id} has no standing {what}: {reason}")
        await asyncio.sleep(0.05)


async def seed_member(
    pool: asyncpg.Pool, agency_id: str, staff_id: str, role: Role, *, joined_on: date | None = None
) -> None:
    """Record a member straight into a service's principals (a kit service has no directory)."""
    async with pool.acquire() as conn, conn.transaction():
        await principals.record_agency_registered(conn, agency_id)
        await principals.record_member_joined(
            conn, agency_id, staff_id, role, joined_on or date(2024, 1, 1)
        )
