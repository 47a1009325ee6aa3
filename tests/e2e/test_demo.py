"""`caseline demo`, run as a user runs it, on the infrastructure the fixtures picked."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from tests.harness import run_command


def test_the_demo_runs_the_kit_and_the_network_scenario_and_every_check_holds(
    kafka_bootstrap: str, database_url: str
) -> None:
    caseline = Path(sys.executable).parent / "caseline"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    done = run_command(
        [str(caseline), "demo", "--size", "small"],
        env=env,
        timeout=600,
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
    # The care stages: careplan and monitoring driven over HTTP after intake.
    for claim in (
        "R1: a plan for a case not yet assigned is refused",
        "R5a: A's crisis intervention",
        "R3: an item for a need the assessment did not find is refused",
        "R4: C agreed to plan v1 but declined",
        "R4: linking C to Incheon without a consent naming it is refused",
        "Incheon accepts A's and C's links",
        "R6b: jumping from step 1 to step 3 without a coded reason is refused",
        "the service is obtained and Incheon delivers it",
        "A's form comes back with a negative answer",
        "R6d: a review that leaves out a goal of the version in force is refused (422",
        "sent A back to planning",
        "R1: evaluating while the revision is pending is refused",
        "R7: an evaluation before the version in force was reviewed is refused",
        "A's evaluation rates all 3 goals",
        "R6d: a form due back the day it is sent is refused",
        "/health says it: a training network whose today is",
        "monitoring's scheduler recorded FormOverdue for D's form",
        "each overdue fact is on the board once",
        "careplan's board lists D's income item as not received",
        "careplan events hold no goal wording",
        "monitoring events hold no goal wording",
        "events; every chain verifies",
    ):
        assert claim in out, claim
    # Termination and referral: closure driven over HTTP, then `caseline verify`'s check.
    for claim in (
        "R1: a planned end while the last evaluation does not permit it is refused",
        "R10: ending before the preparation is recorded is refused",
        "R8: a termination that types its own class is refused (422)",
        "A ends goals_achieved (complete, no referral)",
        "R8: a client-initiated end without the client's answer to the referral offer is refused",
        "the referral goes to Seodaemun, not Incheon",
        "R4: B then declines the referral",
        "R12: intake read A's and B's CaseTerminated from caseline.closure.v1",
        "closure's scheduler ends C (manager_left, incomplete)",
        "D, reassigned to kim before, stays open",
        "the next eligible target, Seodaemun, is issued in the same append",
        "closure closes the loop (ReferralCompleted)",
        "ServiceRequest completed, one Task per target",
        "every open case of Mapo ends agency_closed (incomplete) with its referral",
        "referral pending (no_consent)",
        "/referral-options (D, needs",
        "excluded incheon-mh   already_served",
        "R9 (a): Incheon covers every need but already served this client",
        "the screened-out client's referral waits on closure's board",
        "closure's scheduler runs",
        "closure: referral invariant over",
        "verify: ok",
        "projections' read models equal their replay",
    ):
        assert claim in out, claim
    # The network at scale, at the tests' size: every claim read back from the services.
    for claim in (
        "The network at scale (small): 6 agencies",
        "every case reached its fate: 0 failed",
        "closure's fan-out ended each with its referral (open now: 0)",
        "the open cases they held were ended manager_left with referrals (open now: 0)",
        "a network administrator erased one client across their cases",
        "every referral the targets accepted completed",
        "overdue and moved each to its next target (R9)",
    ):
        assert claim in out, claim
    assert re.search(r"\d+ commands answered 2xx in \d+ s of driving: \d+ commands/s", out), out
    assert re.search(r"\d+ samples: p50 \d+ ms, p99 \d+ ms", out), out
    # The read models rebuilt from the stores equal the live ones (caseline replay).
    assert re.search(
        r"projections: [1-9]\d* event\(s\) replayed \([\d,]+/s\), "
        r"\d+ read model\(s\) compared, 0 drifted",
        out,
    ), out
