"""`caseline verify`: what an auditor can prove from the event stores alone.

Every service's per-case hash chains (and its log without gaps) are recomputed, and closure's
referral invariant (R9) is checked from closure's events alone. Each violation is named in
one line; the command exits non-zero when there is any. An issued referral's target is also
checked against the directory's history (`caseline.network_audit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from caseline.catalog import publishing_services
from caseline.network_audit import network_violations
from services.closure.domain.audit import referral_violations
from shared.envelope import RecordedEvent, registry
from shared.store import EventStore

PAGE = 1000


@dataclass
class Verdict:
    """What `verify` found: the checks it ran and every violation, named."""

    checked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was violated."""
        return not self.violations


async def _schema_exists(pool: asyncpg.Pool, schema: str) -> bool:
    found: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables "
        "WHERE table_schema = $1 AND table_name = 'events')",
        schema,
    )
    return found


async def _history(store: EventStore) -> list[RecordedEvent[Any]]:
    events: list[RecordedEvent[Any]] = []
    after = 0
    while True:
        page = await store.read_all_raw(after, PAGE)
        if not page:
            return events
        events += [store.decode(stored) for stored in page]
        after = page[-1].position


async def verify(
    pool: asyncpg.Pool,
    *,
    schemas: dict[str, str] | None = None,
    today: date,
    pending_bound_days: int,
) -> Verdict:
    """Check every service's chains and closure's referral invariant."""
    # Every service's events must be known to decode closure's (and to name types).
    import services.closure.contract  # noqa: F401

    chosen = {service: service for service in publishing_services()} | (schemas or {})
    verdict = Verdict()
    for service, schema in chosen.items():
        if not await _schema_exists(pool, schema):
            verdict.checked.append(f"{service}: no event store in schema {schema}, skipped")
            continue
        store = EventStore(pool, service, schema=schema, events=registry)
        reports = await store.verify_all()
        broken = [r for r in reports if not r.ok]
        events = sum(r.events_checked for r in reports if r.case_id != "*")
        verdict.checked.append(
            f"{service}: {len(reports)} chain(s), {events} event(s), {len(broken)} broken"
        )
        verdict.violations += [
            f"{service}: stream {r.case_id}: hash chain broken"
            + (f" at version {r.broken_at_version}" if r.broken_at_version else "")
            + (f" ({r.reason})" if r.reason else "")
            for r in broken
        ]
        if service == "closure":
            history = await _history(store)
            found = referral_violations(history, today=today, pending_bound_days=pending_bound_days)
            directory_schema = chosen.get("directory", "directory")
            if await _schema_exists(pool, directory_schema):
                directory = await _history(
                    EventStore(pool, "directory", schema=directory_schema, events=registry)
                )
                found += network_violations(history, directory)
            verdict.checked.append(
                f"closure: referral invariant over {len(history)} event(s), "
                f"{len(found)} violation(s)"
            )
            verdict.violations += [f"closure: {v}" for v in found]
    return verdict
