"""`caseline replay` refuses, with exit 2 and a clear line, what it cannot run: no live
projections where it is pointed, a malformed `--schema`, a schema name that is not one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
