"""What `caseline replay` prints: the rate, each table's verdict, behind apart from drift."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from caseline.read_model_diff import TableDrift
from caseline.replay import ReplayReport
from caseline.replay_command import render_replay


def _report(**changes: Any) -> ReplayReport:
    clean = ReplayReport(
        live_schema="projections",
        events=12_000,
        seconds=4.0,
        rows={"events_seen": 12_000, "journeys": 300},
        drift=(),
    )
    return replace(clean, **changes)


def test_a_clean_replay_reports_its_rate_and_every_table_as_the_same() -> None:
    report = _report()

    lines = render_replay(report)

    assert report.ok and report.events_per_second == 3_000
    assert lines[0].endswith("in 4.0 s (3,000 events/s)")
    assert "same     journeys: 300 rows" in lines
    assert lines[-1] == "replay: the live read models in projections match the history"


def test_drift_names_the_table_its_counts_and_example_keys() -> None:
    drift = TableDrift("journeys", 1, 0, 2, ("missing c4", "c2 differs in stage"))

    lines = render_replay(_report(drift=(drift,)))

    assert "DRIFT    journeys: 1 missing, 2 different (e.g. missing c4; c2 differs in stage)" in (
        lines
    )
    assert lines[-1] == "replay: 1 table(s) drifted, 0 consumer(s) behind"


def test_a_live_projection_behind_is_reported_as_behind_not_as_drift() -> None:
    report = _report(behind={"projections.intake": 5})

    lines = render_replay(report)

    assert not report.ok and report.drift == ()
    assert "BEHIND   consumer projections.intake: 5 replayed events not yet applied live" in lines
    assert not any(line.startswith("DRIFT") for line in lines)


def test_an_event_dead_lettered_live_that_the_history_applies_fails_the_replay() -> None:
    report = _report(dead_lettered={"projections.closure": 2}, refused={"projections.intake": 1})

    lines = render_replay(report)

    assert not report.ok
    assert (
        "DEAD     consumer projections.closure: dead-lettered 2 event(s) the history applies"
        in (lines)
    )
    assert (
        "refused  consumer projections.intake: 1 stored event(s) its handler refuses, left out"
        in (lines)
    )
    assert lines[-1].endswith(", 1 dead-lettering")
