"""`caseline enroll`: enroll a network member straight into the directory's event store.

The first network administrator cannot be enrolled over HTTP (that needs a network
administrator's token), so an operator with access to the directory's database enrolls them
through the directory's own command path; the directory's relay publishes the event and
every service learns the member from `caseline.directory.v1`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, cast

import typer

from shared.envelope import Role

NETWORK_ROLES = (Role.NETWORK_ADMIN, Role.AUDITOR, Role.SYSTEM)


async def enroll_member(
    database_url: str, schema: str, *, staff_id: str, name: str, role: Role
) -> int:
    """Enroll one network member in the directory's store at `schema`; how many events it
    recorded (0 when the member was already enrolled with that role)."""
    if role not in NETWORK_ROLES:
        raise ValueError(f"{role.value} is not a network role")
    from services.directory.application.handlers import Directory, enroll
    from services.directory.domain.events import NetworkRole
    from shared.store import EventStore, create_pool

    pool = await create_pool(database_url, max_size=2, search_path=schema)
    try:
        store = EventStore(pool, "directory", schema=schema)
        await store.migrate()
        member_role = cast(NetworkRole, role.value)  # checked against NETWORK_ROLES first
        result = await enroll(Directory.over(store), staff_id=staff_id, name=name, role=member_role)
        return len(result.recorded)
    finally:
        await pool.close()


def enroll_command(
    staff: Annotated[str, typer.Option("--staff", help="Staff id of the new member.")],
    role: Annotated[Role, typer.Option("--role", help="network_admin, auditor or system.")],
    name: Annotated[str, typer.Option("--name", help="The member's name.")],
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="The directory's schema (default: CASELINE_DB_SCHEMA or directory)."
        ),
    ] = None,
) -> None:
    """Enroll a network administrator, auditor or system account in the directory (no token:
    operators with database access bootstrap the network's first administrator)."""
    from shared.errors import CaselineError
    from shared.settings import load_settings

    if role not in NETWORK_ROLES:
        raise typer.BadParameter(
            "agency staff join through the directory's API; enroll here only "
            + ", ".join(r.value for r in NETWORK_ROLES),
            param_hint="--role",
        )
    settings = load_settings()
    chosen = schema or settings.db_schema or "directory"
    try:
        recorded = asyncio.run(
            enroll_member(settings.database_url, chosen, staff_id=staff, name=name, role=role)
        )
    except (CaselineError, OSError) as e:
        typer.echo(f"caseline enroll: {e}", err=True)
        raise typer.Exit(1) from e
    if recorded:
        typer.echo(f"enrolled {staff} as {role.value} of the network (directory schema {chosen})")
    else:
        typer.echo(f"{staff} is already enrolled as {role.value}: nothing recorded")
