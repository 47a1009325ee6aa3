"""Principals for the integration tests: every token a test mints is for a registered member.

Services with a directory learn members from it (`enroll_in_directory`, then
`until_known`); the kit's test services have no directory and are seeded with the kit's own
record functions (`seed_member`, from the harness).
"""

from __future__ import annotations

import asyncpg

from services.directory.application.handlers import Directory, enroll
from services.directory.domain.events import NetworkRole
from shared import principals
from shared.envelope import Role
from shared.store import EventStore
from tests.harness import eventually
from tests.harness import seed_member as seed_member


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
    await eventually(
        lambda: principals.standing(pool, agency_id, staff_id, role),
        lambda reason: reason is None,
        f"standing for {staff_id} {what}".rstrip(),
    )
