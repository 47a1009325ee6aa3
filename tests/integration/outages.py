"""What the outage tests run beside a service: a steady stream of writes and a /health watcher.

Both record every answer, so a test can say afterwards which writes were acknowledged, that
nothing answered 500, and that /health answered 503 during the outage and 200 after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.harness import eventually

Write = Callable[[int], Awaitable[tuple[str, httpx.Response]]]
"""`await write(n)`: the n-th write; returns what it wrote (a case or agency id) and the answer."""


@dataclass
class Answer:
    """One answer the load got: what it tried to write, and how the service answered."""

    key: str
    status: int
    retry_after: str | None
    at: float


@dataclass
class Load:
    """Writes at a steady pace from a few writers until stopped; keeps every answer."""

    write: Write
    writers: int = 3
    pause: float = 0.02
    answers: list[Answer] = field(default_factory=list)
    _counter: int = 0

    async def _writer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._counter += 1
            try:
                key, answer = await self.write(self._counter)
            except httpx.HTTPError as error:  # the transport itself failed: never expected
                pytest.fail(f"a write got no HTTP answer at all: {error!r}")
            self.answers.append(
                Answer(key, answer.status_code, answer.headers.get("retry-after"), time.time())
            )
            await asyncio.sleep(self.pause)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        """Write in the background for the duration of the block."""
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self._writer(stop)) for _ in range(self.writers)]
        try:
            yield self
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    def acknowledged(self) -> set[str]:
        """What the service said it wrote (2xx)."""
        return {a.key for a in self.answers if 200 <= a.status < 300}

    def statuses(self) -> set[int]:
        """Every status the writes got."""
        return {a.status for a in self.answers}

    def refused_during_outage(self) -> list[Answer]:
        """The writes answered 503."""
        return [a for a in self.answers if a.status == 503]


@dataclass
class HealthWatch:
    """Asks /health every tenth of a second; keeps the statuses and the last report."""

    http: httpx.AsyncClient
    seen: list[tuple[float, int]] = field(default_factory=list)
    last_unhealthy: dict[str, Any] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[HealthWatch]:
        """Watch for the duration of the block."""
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                answer = await self.http.get("/health")
                self.seen.append((time.time(), answer.status_code))
                if answer.status_code != 200:
                    self.last_unhealthy = answer.json()
                await asyncio.sleep(0.1)

        task = asyncio.create_task(watch())
        try:
            yield self
        finally:
            stop.set()
            await task

    def statuses(self) -> set[int]:
        """Every status /health answered."""
        return {status for _, status in self.seen}


async def until_recovered(http: httpx.AsyncClient, timeout: float = 90.0) -> dict[str, Any]:
    """Wait until /health is 200 with the relay and every consumer caught up; the report."""

    async def report() -> tuple[int, dict[str, Any]]:
        answer = await http.get("/health")
        return answer.status_code, answer.json()

    def caught_up(seen: tuple[int, dict[str, Any]]) -> bool:
        status, body = seen
        consumers = body.get("consumers", {}).values()
        return status == 200 and body["relay"]["lag"] == 0 and all(c["lag"] == 0 for c in consumers)

    _, recovered = await eventually(
        report, caught_up, "recovered (health 200, lags 0)", timeout=timeout, interval=0.2
    )
    return recovered


async def until_equal(
    probe: Callable[[], Awaitable[list[str]]], expected: list[str], timeout: float = 30.0
) -> list[str]:
    """`probe()` once it holds as many items as `expected`, sorted.

    A consumer's lag is measured every few seconds, so "lag 0" may predate the relay's last
    batch: its effects are waited for, then compared item by item (none twice, none missing).
    """

    async def found() -> list[str]:
        return sorted(await probe())

    return await eventually(
        found,
        lambda items: len(items) >= len(expected),
        f"{len(expected)} items",
        timeout=timeout,
        interval=0.2,
    )
