"""The supervisor: every background task of a service (relay, consumers, schedulers) runs here.

A task is a coroutine that works until the service stops. When it fails (PostgreSQL or Kafka
went away, or anything else it did not expect) the supervisor logs why, waits a bounded,
jittered backoff and runs it again, for as long as the service runs: a dependency that comes
back is picked up without a process restart. Each task keeps its position in PostgreSQL, so
running it again resumes where it stood.

What a task is doing is kept in a `TaskStatus` that `/health` reports without any I/O:
running, retrying (since when, with the last error), or stopped. A task says it is running
by calling `TaskControl.running()` once its resources are up, and may report a failure it
handles itself (a consumer's message that waits for the database) with `failing()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import asyncpg
from aiokafka.errors import KafkaError

from shared.errors import InfrastructureUnavailable
from shared.logging import get_logger

log = get_logger("caseline.supervisor")

_ERROR_LIMIT = 500


class TaskState(StrEnum):
    """Where a supervised task stands."""

    STARTING = "starting"
    RUNNING = "running"
    RETRYING = "retrying"
    STOPPED = "stopped"


class Backoff:
    """Exponential delays between retries, capped, with jitter; reset by any success."""

    def __init__(self, initial: float = 0.2, maximum: float = 10.0, *, jitter: bool = True) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("a backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._failures = 0

    def failed(self) -> float:
        """Record a failure; return how long to wait before the retry."""
        delay: float = min(self.maximum, self.initial * 2.0**self._failures)
        if delay < self.maximum:
            # Stop counting at the cap: the exponent could otherwise overflow a float.
            self._failures += 1
        if self.jitter:
            # Half fixed, half random: many processes that lost the same database do not
            # all come back at the same instant.
            delay = delay / 2 + random.uniform(0, delay / 2)
        return delay

    def succeeded(self) -> None:
        """Record a success: the next failure waits the initial delay again."""
        self._failures = 0


def describe_error(error: BaseException) -> str:
    """`Type: message`, bounded, for logs and `/health` (never a traceback)."""
    text = str(error).strip()
    described = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if len(described) > _ERROR_LIMIT:
        described = described[: _ERROR_LIMIT - 1] + "…"
    return described


OUTAGE_CLASSES: tuple[type[Exception], ...] = (
    InfrastructureUnavailable,
    OSError,  # refused or reset connections; TimeoutError is an OSError
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutting down, starting up, crash recovery
    asyncpg.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.QueryCanceledError,  # statement timeout while the server struggles
    KafkaError,
)
"""Errors that always mean PostgreSQL or Kafka cannot be reached now."""

MAYBE_OUTAGE_CLASSES: tuple[type[Exception], ...] = (
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
"""Driver errors that are an outage only in some cases (`is_outage` tells which)."""


def is_outage(error: BaseException) -> bool:
    """Whether an error says PostgreSQL or Kafka cannot be reached now (not a bug, not input).

    These are retried by background tasks and answered 503 with `Retry-After` to requests.
    """
    if isinstance(error, asyncpg.InternalClientError):
        # The driver's protocol state broke, seen when the server drops a connection in the
        # middle of an operation; the pool terminates that connection when it is released.
        return True
    if isinstance(error, asyncpg.InterfaceError):
        # "connection is closed", "connection was closed in the middle of operation", a
        # released connection after a reset; other interface errors are programming errors.
        return "closed" in str(error) or "released" in str(error)
    return isinstance(error, OUTAGE_CLASSES)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TaskStatus:
    """What one supervised task is doing, as `/health` shows it."""

    name: str
    kind: str
    state: TaskState = TaskState.STARTING
    since: datetime = field(default_factory=_now)
    """When the task entered its state (for `retrying`: the first failure of the run)."""
    last_error: str | None = None
    detail: str | None = None
    restarts: int = 0
    _since_monotonic: float = field(default_factory=time.monotonic, repr=False)

    def seconds_in_state(self) -> float:
        """How long the task has been in its current state."""
        return time.monotonic() - self._since_monotonic

    def _enter(self, state: TaskState) -> None:
        if state is not self.state:
            self.state = state
            self.since = _now()
            self._since_monotonic = time.monotonic()

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `/health`'s `tasks` entries."""
        return {
            "kind": self.kind,
            "state": self.state.value,
            "since": self.since.isoformat().replace("+00:00", "Z"),
            "seconds": round(self.seconds_in_state(), 1),
            "last_error": self.last_error,
            "detail": self.detail,
            "restarts": self.restarts,
        }


class TaskControl:
    """Handed to a supervised task: it reports its state and reads the stop signal."""

    def __init__(self, status: TaskStatus, stop: asyncio.Event, backoff: Backoff) -> None:
        self.status = status
        self.stop = stop
        self._backoff = backoff

    def running(self, detail: str | None = None) -> None:
        """The task's resources are up and it works (again)."""
        if self.status.state is not TaskState.RUNNING:
            log.info(
                "task.running", task=self.status.name, detail=detail, restarts=self.status.restarts
            )
        self.status._enter(TaskState.RUNNING)
        self.status.detail = detail
        self._backoff.succeeded()

    def failing(self, error: BaseException) -> None:
        """The task handles a failure itself and will retry (it has not stopped)."""
        self.status.last_error = describe_error(error)
        self.status._enter(TaskState.RETRYING)

    @property
    def stopping(self) -> bool:
        """Whether the service is shutting down."""
        return self.stop.is_set()


TaskBody = Callable[[TaskControl], Awaitable[None]]
"""`async def body(control)`: works until `control.stop` is set; raises to be run again."""


class Supervisor:
    """Runs a service's background tasks, restarting each after a failure with backoff."""

    def __init__(
        self,
        *,
        unhealthy_after: float = 15.0,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self.unhealthy_after = unhealthy_after
        self._backoff = backoff
        self._stop = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._statuses: dict[str, TaskStatus] = {}

    def spawn(self, name: str, kind: str, body: TaskBody) -> TaskStatus:
        """Start `body` under supervision; the returned status is live."""
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} already runs")
        status = TaskStatus(name, kind)
        self._statuses[name] = status
        self._tasks[name] = asyncio.create_task(self._supervise(status, body), name=name)
        return status

    async def _supervise(self, status: TaskStatus, body: TaskBody) -> None:
        backoff = self._backoff()
        control = TaskControl(status, self._stop, backoff)
        while not self._stop.is_set():
            try:
                await body(control)
                if self._stop.is_set():
                    break
                raise RuntimeError("the task returned while the service still runs")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a supervisor outlives every failure
                control.failing(error)
                delay = backoff.failed()
                if is_outage(error):
                    log.warning(
                        "task.retrying",
                        task=status.name,
                        error=status.last_error,
                        retry_in=round(delay, 2),
                    )
                else:
                    # Not an outage: a bug or a state nobody foresaw. Loud, with the
                    # traceback, and still retried: a dead relay is worse than a noisy one.
                    log.error(
                        "task.failed",
                        task=status.name,
                        error=status.last_error,
                        retry_in=round(delay, 2),
                        exc_info=error,
                    )
                status.restarts += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        status._enter(TaskState.STOPPED)
        status.detail = "the service is stopping"

    def statuses(self) -> list[TaskStatus]:
        """Every task's status, in the order they were spawned."""
        return list(self._statuses.values())

    def problems(self) -> list[str]:
        """Why the service is not healthy: stopped tasks, tasks retrying or starting too long."""
        found: list[str] = []
        for status in self._statuses.values():
            seconds = status.seconds_in_state()
            if status.state is TaskState.STOPPED or self._tasks[status.name].done():
                found.append(f"{status.name} is not running")
            elif status.state is not TaskState.RUNNING and seconds > self.unhealthy_after:
                found.append(
                    f"{status.name} has been {status.state.value} for {seconds:.0f} s"
                    + (f" ({status.last_error})" if status.last_error else "")
                )
        return found

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask every task to stop, wait up to `timeout`, then cancel what still runs."""
        self._stop.set()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning("task.cancelled", task=task.get_name(), reason="did not stop in time")
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
