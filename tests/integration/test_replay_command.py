"""`caseline replay` refuses, with exit 2 and a clear line, what it cannot run: no live
projections where it is pointed, a malformed `--schema`, a schema name that is not one;
`caseline verify` passes over the drift check where projections is not deployed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from caseline.verify import Verdict
from caseline.verify_command import check_drift
from shared.settings import load_settings

pytestmark = pytest.mark.infra


def _replay(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "caseline"), "replay", "--wait", "0", *args],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "CASELINE_DEVELOPMENT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--live-schema", "t_no_projections_here"), "no live projections in schema"),
        (("--schema", "intake"), "is not SERVICE=SCHEMA"),
        (("--schema", "payroll=t_x"), "is not SERVICE=SCHEMA"),
        (("--live-schema", 'bad"name'), "not a valid schema name"),
    ],
)
def test_what_replay_cannot_run_exits_2_saying_why(
    database_url: str, args: tuple[str, ...], said: str
) -> None:
    done = _replay(database_url, *args)

    assert done.returncode == 2, done.stdout + done.stderr
    assert said in " ".join(done.stderr.split())
    assert done.stdout == ""


async def test_verify_skips_the_drift_check_saying_so_where_projections_is_not_deployed(
    pg_pool: asyncpg.Pool, database_url: str
) -> None:
    verdict = Verdict()

    await check_drift(
        load_settings(database_url=database_url),
        pg_pool,
        {"projections": "t_no_projections_here"},
        verdict,
        0,
    )

    assert verdict.ok
    assert verdict.checked == [
        "projections: no live read models in schema t_no_projections_here, not replayed"
    ]
