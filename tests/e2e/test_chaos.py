"""`caseline chaos`, bounded: cases driven while every service is SIGKILLed twice and the
broker and PostgreSQL restart, on a private stack the run starts and removes itself."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.harness import run_command

pytestmark = pytest.mark.infra


def _count(out: str, pattern: str) -> int:
    found = re.search(pattern, out)
    assert found, f"{pattern!r} not in the report:\n{out}"
    return int(found.group(1).replace(",", ""))


def test_under_kills_and_restarts_nothing_acknowledged_is_lost_or_applied_twice() -> None:
    caseline = Path(sys.executable).parent / "caseline"
    # The run brings up its own stack: the shared one is never restarted.
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    done = run_command(
        [str(caseline), "chaos", "--cases", "20", "--every", "1", "--seed", "5"],
        env={**env, "COLUMNS": "120"},
        timeout=900,
    )

    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert "Result: every check held." in out and "[FAIL]" not in out
    # Every service was killed twice, the broker and the database restarted once.
    for service in ("intake", "careplan", "monitoring", "closure", "directory", "projections"):
        assert len(re.findall(rf"s  {service} SIGKILLed", out)) >= 2, service
    assert out.count("kafka restarted") == 1 and out.count("postgres restarted") == 1
    acknowledged = _count(out, r"events acknowledged in 2xx answers\s*│\s*([\d,]+)")
    assert acknowledged > 500
    for row in ("found in their stores", "found on Kafka"):
        assert _count(out, rf"{row}\s*│\s*([\d,]+)") == acknowledged, row
    assert _count(out, r"events decided twice from one cause\s*│\s*([\d,]+)") == 0
    # Two poison messages, dead-lettered by each consumer of their types, and nothing else.
    assert _count(out, r"poison messages published\s*│\s*([\d,]+)") == 2
    dead = _count(out, r"dead letters on caseline.dlq.v1\s*│\s*([\d,]+)")
    assert dead >= 2 and _count(out, r"  of the published poison\s*│\s*([\d,]+)") == dead
    assert "projections' read models equal their replay" in out
