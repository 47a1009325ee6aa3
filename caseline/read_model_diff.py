"""How a live read model differs from its replay: row by row, by primary key, per table.

Both schemas hold the tables of one read model; every table of the replayed schema (less
the kit's own bookkeeping) is compared with the live table of the same name. The keys and
column names shown as examples are ids and codes only: projections' tables hold no
personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from shared.store import quote_schema

KIT_TABLES = frozenset(
    {
        "events",
        "log_head",
        "relay_positions",
        "processed_messages",
        "consumer_offsets",
        "dead_lettered_messages",
        "principals",
        "principal_agencies",
        "vault_keys",
        "vault_documents",
        "vault_access_log",
        "answered_requests",
    }
)
"""Tables of the kit in a service's schema: not read models of the case history."""

EXAMPLES = 3
"""Keys shown per kind of drift and table."""


@dataclass(frozen=True)
class TableDrift:
    """How one read-model table differs from what the history gives."""

    table: str
    missing: int
    """Rows the history gives that the live table lacks."""
    extra: int
    """Rows of the live table that the history does not give."""
    different: int
    """Rows under the same key whose values differ."""
    examples: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line naming the table, the counts and a few keys."""
        counts = ", ".join(
            f"{n} {what}"
            for n, what in (
                (self.missing, "missing"),
                (self.extra, "extra"),
                (self.different, "different"),
            )
            if n
        )
        shown = f" (e.g. {'; '.join(self.examples)})" if self.examples else ""
        return f"{self.table}: {counts}{shown}"


async def compare_read_models(
    admin: asyncpg.Pool, live_schema: str, replay_schema: str, *, ignore: Iterable[str] = ()
) -> tuple[dict[str, int], list[TableDrift]]:
    """Rows per replayed table, and how each live table differs from its replay: the tables
    are those of the replay schema, less the kit's and `ignore`; rows are matched by primary
    key (by all columns in a table without one)."""
    tables = [
        r["table_name"]
        for r in await admin.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            replay_schema,
        )
        if r["table_name"] not in KIT_TABLES and r["table_name"] not in set(ignore)
    ]
    rows: dict[str, int] = {}
    drift: list[TableDrift] = []
    for table in tables:
        found = await _compare_table(admin, live_schema, replay_schema, table)
        rows[table] = found[0]
        if found[1] is not None:
            drift.append(found[1])
    return rows, drift


async def table_columns(admin: asyncpg.Pool, schema: str, table: str) -> list[str]:
    return [
        r["column_name"]
        for r in await admin.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 "
            "AND table_name = $2 ORDER BY ordinal_position",
            schema,
            table,
        )
    ]


async def _primary_key(admin: asyncpg.Pool, schema: str, table: str) -> list[str]:
    return [
        r["attname"]
        for r in await admin.fetch(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum",
            f"{quote_schema(schema)}.{ident(table)}",
        )
    ]


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _compare_table(
    admin: asyncpg.Pool, live_schema: str, replay_schema: str, table: str
) -> tuple[int, TableDrift | None]:
    replayed = f"{quote_schema(replay_schema)}.{ident(table)}"
    live = f"{quote_schema(live_schema)}.{ident(table)}"
    count = int(await admin.fetchval(f"SELECT count(*) FROM {replayed}"))
    columns = await table_columns(admin, replay_schema, table)
    live_columns = set(await table_columns(admin, live_schema, table))
    if not live_columns:
        return count, TableDrift(table, count, 0, 0, ("the live schema has no such table",))
    absent = [c for c in columns if c not in live_columns]
    if absent:
        return count, TableDrift(table, 0, 0, count, (f"live lacks columns {', '.join(absent)}",))
    key = await _primary_key(admin, replay_schema, table) or columns

    def same_key(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{ident(k)} = {b}.{ident(k)}" for k in key)

    def shown(alias: str) -> str:
        return " || '/' || ".join(f"coalesce({alias}.{ident(k)}::text, '-')" for k in key)

    missing = await admin.fetch(
        f"SELECT {shown('r')} AS k FROM {replayed} r WHERE NOT EXISTS "
        f"(SELECT 1 FROM {live} l WHERE {same_key('r', 'l')}) ORDER BY 1"
    )
    extra = await admin.fetch(
        f"SELECT {shown('l')} AS k FROM {live} l WHERE NOT EXISTS "
        f"(SELECT 1 FROM {replayed} r WHERE {same_key('r', 'l')}) ORDER BY 1"
    )
    differs = " OR ".join(f"r.{ident(c)} IS DISTINCT FROM l.{ident(c)}" for c in columns)
    names = ", ".join(
        f"CASE WHEN r.{ident(c)} IS DISTINCT FROM l.{ident(c)} THEN '{c}' END" for c in columns
    )
    different = await admin.fetch(
        f"SELECT {shown('r')} AS k, concat_ws(',', {names}) AS cols "
        f"FROM {replayed} r JOIN {live} l ON {same_key('r', 'l')} WHERE {differs} ORDER BY 1"
    )
    if not (missing or extra or different):
        return count, None
    examples = (
        *(f"missing {r['k']}" for r in missing[:EXAMPLES]),
        *(f"extra {r['k']}" for r in extra[:EXAMPLES]),
        *(f"{r['k']} differs in {r['cols']}" for r in different[:EXAMPLES]),
    )
    return count, TableDrift(table, len(missing), len(extra), len(different), examples)
