"""Session fixtures that pick the real infrastructure every integration test runs against.

In this order, for Kafka and PostgreSQL each:
1. `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` from the environment;
2. else testcontainers, when a Docker engine answers;
3. else the local runners of `caseline up` (shared.infra.local), which are left running
   afterwards so the next run, `make demo` and other developers reuse them.
When none of these works the test run fails with what was tried: it never skips.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import pytest

T = TypeVar("T")

_CREDENTIAL = "caseline"  # user, password and database name in every path


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from a synchronous fixture, whatever loop pytest-asyncio runs."""
    from shared.infra.local import run_async

    return run_async(factory)


@functools.cache
def _docker_answers() -> tuple[bool, str]:
    """Ask the Docker engine once, quickly; (answers, why not)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Docker here"
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def _asyncpg_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+asyncpg://) too; asyncpg wants postgresql://."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith(("postgresql+", "postgres+")):
        return "postgresql://" + rest
    return url


def _fail(what: str, tried: list[str]) -> NoReturn:
    pytest.fail(
        f"no {what} for the integration tests. Tried, in order:\n  - "
        + "\n  - ".join(tried)
        + "\nSet the environment variable, start a Docker engine, or fix the local runner "
        "(`caseline up` prints why it cannot start).",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a Kafka broker that answers, with the caseline topics created."""
    from shared.infra.local import LocalStackError, kafka_answers
    from shared.infra.local import up as local_up
    from shared.infra.topics import ensure_topics

    tried: list[str] = []
    with contextlib.ExitStack() as cleanup:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if bootstrap:
            if not _run(lambda: kafka_answers(bootstrap, timeout=10.0)):
                _fail("Kafka broker", [f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}: does not answer"])
        else:
            tried.append("KAFKA_BOOTSTRAP_SERVERS: not set")
            bootstrap = _kafka_from_testcontainers(cleanup, tried)
        if not bootstrap:
            try:
                bootstrap = local_up(kafka=True, postgres=False).kafka_bootstrap
            except LocalStackError as exc:
                tried.append(f"local runner (shared.infra.local.up): {exc}")
        if not bootstrap:
            _fail("Kafka broker", tried)
        _run(lambda: ensure_topics(bootstrap))
        yield bootstrap


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """An asyncpg DSN of a PostgreSQL database that answers, for a superuser-capable role."""
    from shared.infra.local import LocalStackError, database_answers
    from shared.infra.local import up as local_up

    tried: list[str] = []
    with contextlib.ExitStack() as cleanup:
        url = _asyncpg_dsn(os.environ.get("DATABASE_URL", "").strip())
        if url:
            if not _run(lambda: database_answers(url, timeout=10.0)):
                _fail("PostgreSQL database", [f"DATABASE_URL={url}: does not answer"])
        else:
            tried.append("DATABASE_URL: not set")
            url = _postgres_from_testcontainers(cleanup, tried)
        if not url:
            try:
                url = local_up(kafka=False, postgres=True).database_url
            except LocalStackError as exc:
                tried.append(f"local runner (shared.infra.local.up): {exc}")
        if not url:
            _fail("PostgreSQL database", tried)
        yield url


def _kafka_from_testcontainers(cleanup: contextlib.ExitStack, tried: list[str]) -> str:
    """Start a Kafka container when Docker answers; '' (and a note in `tried`) otherwise."""
    answers, why = _docker_answers()
    if not answers:
        tried.append(f"testcontainers: no Docker engine ({why})")
        return ""
    try:
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # testcontainers before the community split
            from testcontainers.kafka import KafkaContainer
        container = cleanup.enter_context(KafkaContainer())
        return str(container.get_bootstrap_server())
    except Exception as exc:  # noqa: BLE001 - report it, then try the local runner
        tried.append(f"testcontainers Kafka: {type(exc).__name__}: {exc}")
        return ""


def _postgres_from_testcontainers(cleanup: contextlib.ExitStack, tried: list[str]) -> str:
    """Start a PostgreSQL container when Docker answers; '' (and a note) otherwise."""
    answers, why = _docker_answers()
    if not answers:
        tried.append(f"testcontainers: no Docker engine ({why})")
        return ""
    try:
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:  # testcontainers before the community split
            from testcontainers.postgres import PostgresContainer
        container = cleanup.enter_context(
            PostgresContainer(
                "postgres:16-alpine",
                username=_CREDENTIAL,
                password=_CREDENTIAL,
                dbname=_CREDENTIAL,
            )
        )
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5432)
        return f"postgresql://{_CREDENTIAL}:{_CREDENTIAL}@{host}:{port}/{_CREDENTIAL}"
    except Exception as exc:  # noqa: BLE001 - report it, then try the local runner
        tried.append(f"testcontainers PostgreSQL: {type(exc).__name__}: {exc}")
        return ""
