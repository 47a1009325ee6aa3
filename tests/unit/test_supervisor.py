"""The supervisor keeps background tasks alive through failures and tells /health the truth."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from shared.errors import InfrastructureUnavailable
from shared.supervisor import (
    Backoff,
    Supervisor,
    TaskControl,
    TaskState,
    describe_error,
    is_outage,
)


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() -> None:
    backoff = Backoff(initial=0.1, maximum=0.5, jitter=False)
    assert [backoff.failed() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.succeeded()
    assert backoff.failed() == 0.1


def test_backoff_stays_at_its_cap_however_long_the_outage() -> None:
    backoff = Backoff(initial=0.1, maximum=30.0, jitter=False)
    for _ in range(5000):
        delay = backoff.failed()
    assert delay == 30.0


def test_jittered_backoff_waits_between_half_and_all_of_each_step() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    delays = [backoff.failed() for _ in range(6)]
    for delay, step in zip(delays, [1.0, 2.0, 4.0, 8.0, 8.0, 8.0], strict=True):
        assert step / 2 <= delay <= step
    assert len({round(d, 6) for d in delays[3:]}) > 1  # processes do not retry in lockstep


@pytest.mark.parametrize(("initial", "maximum"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_backoff_refuses_nonsense_delays(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial=initial, maximum=maximum)


def test_outages_are_told_apart_from_bugs() -> None:
    assert is_outage(ConnectionRefusedError(111, "refused"))
    assert is_outage(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert is_outage(asyncpg.ConnectionDoesNotExistError("closed in the middle"))
    assert is_outage(asyncpg.InterfaceError("connection is closed"))
    assert is_outage(asyncpg.InternalClientError("cannot switch to state 12"))
    assert is_outage(KafkaConnectionError())
    assert is_outage(InfrastructureUnavailable("Kafka away"))
    assert not is_outage(asyncpg.InterfaceError("another operation is in progress"))
    assert not is_outage(ValueError("a bug"))
    assert not is_outage(asyncpg.UniqueViolationError("duplicate key"))


def test_an_error_is_described_in_one_bounded_line() -> None:
    assert describe_error(OSError("refused")) == "OSError: refused"
    assert describe_error(TimeoutError()) == "TimeoutError"
    assert len(describe_error(ValueError("x" * 10_000))) == 500


def fast_backoff() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05)


async def test_a_failing_task_is_run_again_until_it_works_and_then_shows_running() -> None:
    supervisor = Supervisor(unhealthy_after=60, backoff=fast_backoff)
    attempts = 0

    async def flaky(control: TaskControl) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise ConnectionRefusedError(111, "PostgreSQL refused the connection")
        control.running("publishing")
        await control.stop.wait()

    status = supervisor.spawn("relay:test", "relay", flaky)
    for _ in range(200):
        if status.state is TaskState.RUNNING:
            break
        await asyncio.sleep(0.01)
    assert status.state is TaskState.RUNNING and status.detail == "publishing"
    assert status.restarts == 3
    assert status.last_error == (
        "ConnectionRefusedError: [Errno 111] PostgreSQL refused the connection"
    )
    assert supervisor.problems() == []
    await supervisor.stop()
    assert status.state is TaskState.STOPPED


async def test_a_task_retrying_longer_than_the_bound_is_a_health_problem() -> None:
    supervisor = Supervisor(unhealthy_after=0.2, backoff=fast_backoff)

    async def never_connects(control: TaskControl) -> None:
        raise OSError("Kafka is away")

    status = supervisor.spawn("consumer:roster", "consumer", never_connects)
    await asyncio.sleep(0.05)
    assert status.state is TaskState.RETRYING
    assert supervisor.problems() == []  # a short retry is not yet a problem
    await asyncio.sleep(0.3)
    [problem] = supervisor.problems()
    assert problem.startswith("consumer:roster has been retrying for")
    assert "Kafka is away" in problem
    assert status.as_dict()["state"] == "retrying"
    await supervisor.stop()


async def test_a_bug_is_retried_too_and_a_task_that_returns_early_is_run_again() -> None:
    supervisor = Supervisor(unhealthy_after=60, backoff=fast_backoff)
    calls: list[str] = []

    async def body(control: TaskControl) -> None:
        calls.append("run")
        if len(calls) == 1:
            raise KeyError("a bug")
        if len(calls) == 2:
            return  # returned while the service still runs
        control.running()
        await control.stop.wait()

    status = supervisor.spawn("scheduler:reviews", "scheduler", body)
    for _ in range(200):
        if status.state is TaskState.RUNNING:
            break
        await asyncio.sleep(0.01)
    assert calls == ["run", "run", "run"]
    assert status.last_error == "RuntimeError: the task returned while the service still runs"
    await supervisor.stop()


async def test_a_task_reports_failures_it_handles_itself_and_recovers() -> None:
    supervisor = Supervisor(unhealthy_after=60, backoff=fast_backoff)
    controls: list[TaskControl] = []

    async def body(control: TaskControl) -> None:
        controls.append(control)
        control.running()
        await control.stop.wait()

    status = supervisor.spawn("consumer:x", "consumer", body)
    await asyncio.sleep(0.02)
    controls[0].failing(OSError("the database went away"))
    assert status.state is TaskState.RETRYING and "went away" in (status.last_error or "")
    controls[0].running()
    assert status.state is TaskState.RUNNING
    await supervisor.stop()


async def test_stopping_cancels_a_task_that_ignores_the_stop_signal() -> None:
    supervisor = Supervisor(unhealthy_after=60)

    async def stubborn(control: TaskControl) -> None:
        control.running()
        await asyncio.sleep(3600)

    supervisor.spawn("stubborn", "scheduler", stubborn)
    await asyncio.sleep(0.01)
    await asyncio.wait_for(supervisor.stop(timeout=0.1), 2)
    assert supervisor.problems() == ["stubborn is not running"]
