"""Session fixtures that pick the real infrastructure every integration test runs against.

`caseline.infra.provide` picks, for Kafka and PostgreSQL each: the environment variable, else
testcontainers when a Docker engine answers, else the local runners of `caseline up`.
When none of these works the test run fails with what was tried: it never skips.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NoReturn

import pytest

from shared.settings import secrets_of_a_run

# Services refuse the public development secrets: every app the tests build, and every
# `caseline serve` they start, signs and seals with secrets of this test run.
for _name, _value in secrets_of_a_run().items():
    os.environ.setdefault(_name, _value)


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
    from caseline.infra.provide import provide_kafka

    tried: list[str] = []
    with contextlib.ExitStack() as cleanup:
        bootstrap = provide_kafka(cleanup, tried)
        if not bootstrap:
            _fail("Kafka broker", tried)
        yield bootstrap


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """An asyncpg DSN of a PostgreSQL database that answers, for a superuser-capable role."""
    from caseline.infra.provide import provide_database

    tried: list[str] = []
    with contextlib.ExitStack() as cleanup:
        url = provide_database(cleanup, tried)
        if not url:
            _fail("PostgreSQL database", tried)
        yield url
