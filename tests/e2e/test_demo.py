"""`caseline demo`, run as a user runs it, on the infrastructure the fixtures picked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_demo_walks_case_events_end_to_end_and_every_check_holds(
    kafka_bootstrap: str, database_url: str
) -> None:
    caseline = Path(sys.executable).parent / "caseline"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    done = subprocess.run(
        [str(caseline), "demo"], env=env, capture_output=True, text=True, timeout=180
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Result: every check held." in out
    assert out.count("[ok  ]") >= 8 and "[FAIL]" not in out
    assert "went to caseline.dlq.v1" in out
    assert "chain verifies" in out
