"""Pick the Kafka broker and PostgreSQL a run uses: the tests and `caseline demo` alike.

In this order, for each: `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` from the environment;
else testcontainers, when a Docker engine answers; else the local runners of `caseline up`,
which are left running so the next run reuses them. Each step that did not work is noted
in `tried`, so a caller that gets nothing can say exactly why.
"""

from __future__ import annotations

import contextlib
import functools
import os

from caseline.catalog import all_topics
from caseline.infra.local import LocalStackError, database_answers, kafka_answers
from caseline.infra.local import up as local_up
from caseline.infra.system import run_async
from shared.settings import load_settings
from shared.topics import ensure_topics

_CREDENTIAL = "caseline"  # user, password and database name in every path


@functools.cache
def docker_answers() -> tuple[bool, str]:
    """Ask the Docker engine once, quickly; (answers, why not)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure at all means "no Docker here"
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def asyncpg_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+asyncpg://) too; asyncpg wants postgresql://."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith(("postgresql+", "postgres+")):
        return "postgresql://" + rest
    return url


def provide_kafka(cleanup: contextlib.ExitStack, tried: list[str]) -> str:
    """Bootstrap servers of a broker that answers, with the topics created; '' when none."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if bootstrap:
        if not run_async(lambda: kafka_answers(bootstrap, timeout=10.0)):
            tried.append(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}: does not answer")
            return ""
    else:
        tried.append("KAFKA_BOOTSTRAP_SERVERS: not set")
        bootstrap = _kafka_from_testcontainers(cleanup, tried)
    if not bootstrap:
        try:
            bootstrap = local_up(kafka=True, postgres=False).kafka_bootstrap
        except LocalStackError as exc:
            tried.append(f"local runner (caseline up): {exc}")
            return ""
    partitions = load_settings().topic_partitions
    run_async(lambda: ensure_topics(bootstrap, all_topics(), partitions))
    return bootstrap


def provide_database(cleanup: contextlib.ExitStack, tried: list[str]) -> str:
    """An asyncpg DSN of a database that answers, for a superuser-capable role; '' when none."""
    url = asyncpg_dsn(os.environ.get("DATABASE_URL", "").strip())
    if url:
        if not run_async(lambda: database_answers(url, timeout=10.0)):
            tried.append(f"DATABASE_URL={url}: does not answer")
            return ""
        return url
    tried.append("DATABASE_URL: not set")
    url = _postgres_from_testcontainers(cleanup, tried)
    if url:
        return url
    try:
        return local_up(kafka=False, postgres=True).database_url
    except LocalStackError as exc:
        tried.append(f"local runner (caseline up): {exc}")
        return ""


def _kafka_from_testcontainers(cleanup: contextlib.ExitStack, tried: list[str]) -> str:
    answers, why = docker_answers()
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
    answers, why = docker_answers()
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
                "postgres:17-alpine",
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
