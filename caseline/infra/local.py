"""Local Kafka broker and PostgreSQL cluster without Docker: `caseline up`, `down`, `status`.

Kafka runs from the Maven Central jars of deploy/local/pom.xml in KRaft combined mode;
PostgreSQL is Debian's, with its own cluster under `.local/postgres`. Everything lives in
one folder (`CASELINE_LOCAL_DIR`, default `.local` at the repository root), and `down()`
only ever stops what `up()` recorded there.

Recovery tests crash and restart one folder's servers with `kill_kafka`, `start_kafka`,
`restart_postgres`, `kill_postgres` and `start_postgres`; they use a private folder whose
layout borrows the shared Kafka jars (`LocalLayout.jars_from`), never the shared stack.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from caseline.infra.kafka import (
    _launch_kafka,
    _prepare_kafka,
    _stop_kafka,
    _wait_for_kafka,
    kafka_pid,
    kill_kafka,
    start_kafka,
)
from caseline.infra.layout import (
    DEPLOY_DIR,
    REPO_ROOT,
    ComponentStatus,
    Echo,
    LocalLayout,
    LocalStackError,
    StackStatus,
    say,
)
from caseline.infra.postgres import (
    PgStopMode,
    _start_postgres,
    _stop_postgres,
    _wait_for_database,
    kill_postgres,
    postgres_pid,
    restart_postgres,
    start_postgres,
)
from caseline.infra.system import _stack_lock, database_answers, kafka_answers, run_async

__all__ = [
    "DEPLOY_DIR",
    "REPO_ROOT",
    "LocalLayout",
    "LocalStackError",
    "PgStopMode",
    "StackStatus",
    "database_answers",
    "down",
    "kafka_answers",
    "kafka_pid",
    "kill_kafka",
    "kill_postgres",
    "postgres_pid",
    "restart_postgres",
    "start_kafka",
    "start_postgres",
    "status",
    "up",
]


# ----------------------------------------------------------------------- public API


def status(layout: LocalLayout | None = None) -> StackStatus:
    """Ask both servers whether they answer and who started them."""
    layout = layout or LocalLayout.from_env()

    async def probe() -> tuple[bool, bool]:
        kafka_ok, pg_ok = await asyncio.gather(
            kafka_answers(layout.kafka_bootstrap), database_answers(layout.database_url)
        )
        return kafka_ok, pg_ok

    kafka_ok, pg_ok = run_async(probe)
    return _snapshot(layout, kafka_ok, pg_ok)


def _snapshot(layout: LocalLayout, kafka_ok: bool, pg_ok: bool) -> StackStatus:
    """Build a StackStatus from probe results and the pid records."""
    k_pid = kafka_pid(layout)
    p_pid = postgres_pid(layout)
    return StackStatus(
        kafka=ComponentStatus(
            "Kafka",
            layout.kafka_bootstrap,
            kafka_ok,
            k_pid,
            external=kafka_ok and k_pid is None,
            log=layout.kafka_log,
        ),
        postgres=ComponentStatus(
            "PostgreSQL",
            f"127.0.0.1:{layout.pg_port}",
            pg_ok,
            p_pid,
            external=pg_ok and p_pid is None,
            log=layout.pg_log,
        ),
        kafka_bootstrap=layout.kafka_bootstrap,
        database_url=layout.database_url,
    )


def up(
    *,
    kafka: bool = True,
    postgres: bool = True,
    layout: LocalLayout | None = None,
    echo: Echo = say,
) -> StackStatus:
    """Start what does not answer yet (Kafka, PostgreSQL), wait for it, create the topics."""
    layout = layout or LocalLayout.from_env()
    before = status(layout)
    need_kafka = kafka and not before.kafka.answering
    need_pg = postgres and not before.postgres.answering
    if not need_kafka and not need_pg:
        names = [
            f"{c.name} on {c.address}"
            for wanted, c in ((kafka, before.kafka), (postgres, before.postgres))
            if wanted
        ]
        verb = "answers" if len(names) == 1 else "answer"
        echo(" and ".join(names) + f" already {verb}: nothing to start")
        if kafka:
            run_async(lambda: _topics(layout.kafka_bootstrap))
        return replace(before, already_running=True)

    started: list[str] = []
    with _stack_lock(layout, echo):
        # Someone else may have started things while we waited for the lock.
        again = status(layout)
        need_kafka = kafka and not again.kafka.answering
        need_pg = postgres and not again.postgres.answering
        process = None
        if need_kafka:
            # The download and formatting are not part of the readiness timeout.
            _prepare_kafka(layout, echo)
            process = _launch_kafka(layout, echo)
            started.append("kafka")
        if need_pg:
            # Runs while the broker boots: the two start in parallel.
            _start_postgres(layout, echo)
            waited = run_async(lambda: _wait_for_database(layout))
            echo(f"PostgreSQL answers on 127.0.0.1:{layout.pg_port} ({waited:.1f} s)")
            started.append("postgres")
        if process is not None:
            launched = process
            waited = run_async(lambda: _wait_for_kafka(layout, launched, echo))
            echo(f"Kafka answers on {layout.kafka_bootstrap} ({waited:.1f} s)")
        if kafka:
            run_async(lambda: _topics(layout.kafka_bootstrap))
            echo("topics ready: " + ", ".join(_all_topics()))
    return replace(status(layout), started=tuple(started))


async def _topics(bootstrap: str) -> None:
    from caseline.catalog import all_topics
    from shared.settings import load_settings
    from shared.topics import ensure_topics

    await ensure_topics(bootstrap, all_topics(), load_settings().topic_partitions)


def _all_topics() -> tuple[str, ...]:
    from caseline.catalog import all_topics

    return all_topics()


def down(layout: LocalLayout | None = None, echo: Echo = say) -> tuple[str, ...]:
    """Stop what `up()` started from this folder, and nothing else; return what stopped."""
    layout = layout or LocalLayout.from_env()
    if not layout.root.is_dir():
        echo(f"nothing to stop ({layout.root} does not exist)")
        return ()
    stopped: list[str] = []
    with _stack_lock(layout, echo):
        if _stop_kafka(layout, echo):
            stopped.append("kafka")
        if _stop_postgres(layout, echo):
            stopped.append("postgres")
    if not stopped:
        echo("nothing started by `caseline up` is running")
    after = status(layout)
    for component in (after.kafka, after.postgres):
        if component.answering and component.pid is None:
            echo(f"{component.name} on {component.address} is not ours: left alone")
    return tuple(stopped)
