"""`caseline demo`, run as a user runs it, on the infrastructure the fixtures picked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_the_kit_and_the_network_scenario_and_every_check_holds(
    kafka_bootstrap: str, database_url: str
) -> None:
    caseline = Path(sys.executable).parent / "caseline"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    done = subprocess.run(
        [str(caseline), "demo"], env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Result: every check held." in out
    assert out.count("[ok  ]") >= 8 and "[FAIL]" not in out
    assert "went to caseline.dlq.v1" in out
    assert "chain verifies" in out
    # The network part: real `caseline serve` processes, driven over HTTP.
    for claim in (
        "4 services with room",
        "intake's roster learned the staff of the three agencies from caseline.directory.v1",
        "R1: assessing before registration and screening is refused",
        "a possible duplicate client is flagged",
        "R2: a single simple need is screened out",
        "R12: the supervisor's recorded override assigns it",
        "the directory counted the caseloads from caseline.intake.v1",
        "hold no client name or phone in clear",
    ):
        assert claim in out, claim
