"""Reading a monitoring stream on a connection already held.

A consumer applies an event inside its own transaction; loading the case's stream through
the pool there would wait for a second connection while holding one. The kit's store reads
only through its pool, so this reads the same rows on the consumer's connection and decodes
them with the store (a kit `read_stream(..., connection=)` would replace it).
"""

from __future__ import annotations

import json
from typing import TypeVar

import asyncpg

from shared.application import CommandPath, Loaded
from shared.store import StoredEvent

S = TypeVar("S")


async def load_on(conn: asyncpg.Connection, path: CommandPath[S], case_id: str) -> Loaded[S]:
    """A stream's state and version, read on `conn`."""
    rows = await conn.fetch(
        "SELECT position, case_id, stream_version, event_id, event_type, schema_version, "
        "payload::text AS payload, metadata::text AS metadata, previous_hash, hash "
        "FROM events WHERE case_id = $1 ORDER BY stream_version",
        case_id,
    )
    history = [
        path.store.decode(
            StoredEvent(
                position=r["position"],
                case_id=r["case_id"],
                stream_version=r["stream_version"],
                event_id=r["event_id"],
                event_type=r["event_type"],
                schema_version=r["schema_version"],
                payload=json.loads(r["payload"]),
                metadata=json.loads(r["metadata"]),
                previous_hash=bytes(r["previous_hash"]),
                hash=bytes(r["hash"]),
            )
        )
        for r in rows
    ]
    return Loaded(case_id, path.model.state_of(history), len(history))
