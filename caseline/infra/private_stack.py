"""A private Kafka broker and PostgreSQL cluster that tests and `caseline chaos` may crash.

Recovery tests kill and restart servers under running services. They must never do that to
the shared stack (`.local`, ports 9092/5432) other test runs use, so `private_stack()` starts
a stack of its own: a temporary folder, three free ports, the shared Kafka jars borrowed
read-only. It yields a `PrivateStack` with the addresses and the fault controls, and stops
and deletes everything on exit.

    async with private_stack() as stack:
        pool = await asyncpg.create_pool(stack.database_url)
        await stack.restart_postgres()
        ...

The controls are blocking calls run in a worker thread, so services running in the test's
own event loop go on working (and failing, and retrying) during a restart.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from caseline.infra import kafka, local
from caseline.infra.local import LocalLayout, LocalStackError
from caseline.processes import free_port


def _echo(message: str) -> None:
    """Progress of the private stack on stderr (shown by pytest when a test fails)."""
    print(f"private stack: {message}", file=sys.stderr, flush=True)


def distinct_free_ports(count: int) -> list[int]:
    """`count` different free TCP ports (free_port() may hand out the same one twice)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass(frozen=True)
class PrivateStack:
    """A running private stack: where it answers and how to crash or restart its servers."""

    layout: LocalLayout

    @property
    def database_url(self) -> str:
        """asyncpg DSN of the private cluster's caseline database."""
        return self.layout.database_url

    @property
    def kafka_bootstrap(self) -> str:
        """Bootstrap servers of the private broker."""
        return self.layout.kafka_bootstrap

    async def restart_postgres(self, mode: local.PgStopMode = "immediate") -> float:
        """`pg_ctl restart -m mode`; seconds until the caseline login works again."""
        return await asyncio.to_thread(local.restart_postgres, self.layout, mode=mode, echo=_echo)

    async def kill_postgres(self) -> int:
        """SIGKILL the postmaster and wait for all its processes; its pid."""
        return await asyncio.to_thread(local.kill_postgres, self.layout)

    async def start_postgres(self) -> float:
        """Start the cluster after a kill; seconds until the caseline login works."""
        return await asyncio.to_thread(local.start_postgres, self.layout, _echo)

    async def kill_kafka(self) -> int:
        """SIGKILL the broker and wait until it is gone; its pid."""
        return await asyncio.to_thread(local.kill_kafka, self.layout)

    async def start_kafka(self) -> float:
        """Start the broker again on its data; seconds until it answers."""
        return await asyncio.to_thread(local.start_kafka, self.layout, _echo)


async def _durable_commits(database_url: str) -> None:
    """Turn synchronous_commit back on: these tests kill PostgreSQL and count acknowledged
    commits, which the development setting (off, fast on slow disks) may lose in a crash."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER SYSTEM SET synchronous_commit = on")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def _refuse_shared(layout: LocalLayout, shared: LocalLayout) -> None:
    """Never let a private stack share a folder or a port with the shared one."""
    if layout.root.resolve() == shared.root.resolve():
        raise LocalStackError(f"a private stack may not live in the shared folder {shared.root}")
    ours = {layout.kafka_port, layout.controller_port, layout.pg_port}
    theirs = {shared.kafka_port, shared.controller_port, shared.pg_port}
    if ours & theirs:
        raise LocalStackError(f"a private stack may not use the shared ports {sorted(theirs)}")


@asynccontextmanager
async def private_stack() -> AsyncIterator[PrivateStack]:
    """Start a private Kafka + PostgreSQL in a temporary folder; stop and delete it after."""
    shared = LocalLayout.from_env()
    # The shared folder owns the jars; fetch them there (once) so we can borrow them.
    await asyncio.to_thread(kafka._ensure_kafka_jars, shared, _echo)
    root = Path(tempfile.mkdtemp(prefix="caseline-private-"))
    kafka_port, controller_port, pg_port = distinct_free_ports(3)
    layout = LocalLayout(root, kafka_port, controller_port, pg_port, jars_from=shared.kafka_libs)
    _refuse_shared(layout, shared)
    try:
        result = await asyncio.to_thread(local.up, layout=layout, echo=_echo)
        if not result.healthy:
            report = "\n".join(result.lines())
            raise LocalStackError(f"the private stack did not come up:\n{report}")
        await _durable_commits(layout.database_url)
        yield PrivateStack(layout)
    finally:
        try:
            await asyncio.to_thread(local.down, layout, _echo)
        finally:
            shutil.rmtree(root, ignore_errors=True)
