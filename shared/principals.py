"""Who may act in the network: every service's own projection of the directory's members.

A signed token says who its holder was when it was minted; it does not say they are still
there. Every service keeps, in its own schema, the members the directory published (staff
of agencies, and the network's own administrators, auditors and system accounts under the
reserved agency `network`), and `standing` checks a token's principal against it on every
request: an active member, with exactly that role, of a registered agency not closed. A
departure or closure thus takes effect within the consumer's lag.

The `record_*` functions write on a connection inside a consumer's transaction (the
directory's contract maps its events to them); tables are unqualified, because a service's
pool has its own schema on the search path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from shared.clock import agency_today
from shared.envelope import NETWORK as NETWORK  # re-exported: the members projection names it
from shared.envelope import Role
from shared.store import migrate_schema, quote_schema

NETWORK_ROLES = frozenset({Role.NETWORK_ADMIN, Role.AUDITOR, Role.SYSTEM})
"""The roles only members of `NETWORK` hold."""

AGENCY_ROLES = frozenset({Role.CASE_MANAGER, Role.SUPERVISOR, Role.AGENCY_ADMIN})
"""The roles staff of an agency hold."""


def _migration(s: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};

CREATE TABLE IF NOT EXISTS {s}.principal_agencies (
    agency_id  text PRIMARY KEY,
    closed_on  date
);

CREATE TABLE IF NOT EXISTS {s}.principals (
    agency_id    text NOT NULL,
    staff_id     text NOT NULL,
    role         text NOT NULL,
    joined_on    date NOT NULL,
    departed_on  date,
    PRIMARY KEY (agency_id, staff_id)
);
"""


async def migrate(pool: asyncpg.Pool, schema: str) -> None:
    """Create the projection's tables in `schema` (idempotent)."""
    await migrate_schema(pool, schema, _migration(quote_schema(schema)))


async def record_agency_registered(conn: asyncpg.Connection, agency_id: str) -> None:
    """The directory registered an agency (a redelivery changes nothing)."""
    await conn.execute(
        "INSERT INTO principal_agencies (agency_id) VALUES ($1) ON CONFLICT DO NOTHING",
        agency_id,
    )


async def record_agency_closed(conn: asyncpg.Connection, agency_id: str, closed_on: date) -> None:
    """An agency closes on `closed_on`: from that day none of its members may act."""
    await conn.execute(
        "INSERT INTO principal_agencies (agency_id, closed_on) VALUES ($1, $2) "
        "ON CONFLICT (agency_id) DO UPDATE SET closed_on = EXCLUDED.closed_on",
        agency_id,
        closed_on,
    )


async def record_member_joined(
    conn: asyncpg.Connection, agency_id: str, staff_id: str, role: Role | str, joined_on: date
) -> None:
    """A member joins an agency (or the network) with one role, from `joined_on`."""
    await conn.execute(
        "INSERT INTO principals (agency_id, staff_id, role, joined_on) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (agency_id, staff_id) DO UPDATE SET role = EXCLUDED.role, "
        "joined_on = EXCLUDED.joined_on, departed_on = NULL",
        agency_id,
        staff_id,
        Role(role).value,
        joined_on,
    )


async def record_member_departed(
    conn: asyncpg.Connection, agency_id: str, staff_id: str, departed_on: date
) -> None:
    """A member leaves on `departed_on`: from that day their tokens are refused."""
    await conn.execute(
        "UPDATE principals SET departed_on = $3 WHERE agency_id = $1 AND staff_id = $2",
        agency_id,
        staff_id,
        departed_on,
    )


@dataclass(frozen=True)
class Member:
    """What the projection knows of one token's holder."""

    agency_known: bool
    agency_closed_on: date | None
    role: str | None
    joined_on: date | None
    departed_on: date | None


_LOOKUP = (
    "SELECT a.agency_id IS NOT NULL AS agency_known, a.closed_on AS agency_closed_on, "
    "p.role, p.joined_on, p.departed_on "
    "FROM (SELECT $1::text AS agency_id, $2::text AS staff_id) q "
    "LEFT JOIN principal_agencies a ON a.agency_id = q.agency_id "
    "LEFT JOIN principals p ON p.agency_id = q.agency_id AND p.staff_id = q.staff_id"
)


async def member(conn: asyncpg.Connection | asyncpg.Pool, agency_id: str, staff_id: str) -> Member:
    """The projection's record of one member of one agency (empty fields when unknown)."""
    row = await conn.fetchrow(_LOOKUP, agency_id, staff_id)
    assert row is not None  # the query always returns its one row
    return Member(
        agency_known=row["agency_known"],
        agency_closed_on=row["agency_closed_on"],
        role=row["role"],
        joined_on=row["joined_on"],
        departed_on=row["departed_on"],
    )


def refusal(found: Member, role: Role, today: date) -> str | None:
    """Why a principal with `role` has no standing as `found` says, or None when it has.

    The reasons name no person: a token's holder learns what is wrong, a log reader no more.
    """
    if not found.agency_known:
        return "the token's agency is not registered in the directory"
    if found.agency_closed_on is not None and found.agency_closed_on <= today:
        return "the token's agency is closed"
    if found.role is None:
        return "the token's holder is not a registered member of its agency"
    if found.joined_on is not None and found.joined_on > today:
        return "the token's holder has not joined its agency yet"
    if found.departed_on is not None and found.departed_on <= today:
        return "the token's holder has left its agency"
    if found.role != role.value:
        return "the token's role is not the role its holder is registered with"
    return None


async def standing(
    conn: asyncpg.Connection | asyncpg.Pool,
    agency_id: str,
    staff_id: str,
    role: Role,
    *,
    today: date | None = None,
) -> str | None:
    """Why this member has no standing today, or None: an active member, with exactly this
    role, of a registered agency that has not closed (dates ahead are not yet in effect)."""
    found = await member(conn, agency_id, staff_id)
    return refusal(found, role, today or agency_today())
