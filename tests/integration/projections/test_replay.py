"""`caseline replay` and verify's drift check on a live projections service: a replay of
the history equals the live read models; drift planted with superuser SQL is caught and
named; a live projection that has not applied an event yet is behind, not drifted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from caseline.replay import ReplayReport, replay_projections
from services.intake import contract as intake
from services.intake.contract import CaseFound
from tests.harness import eventually, unique
from tests.integration.projections.conftest import AGENCY, UPSTREAM, Projections
from tests.integration.projections.stories import referred_case

pytestmark = pytest.mark.infra


def _stores(app: Projections) -> dict[str, str]:
    # No directory beside this projections app: its members are recorded straight in.
    upstream = {service: app.feed.stores[service].schema for service in UPSTREAM}
    return {**upstream, "directory": "t_no_directory_here"}


async def _replay(app: Projections, wait: float = 20.0) -> ReplayReport:
    served = app.served
    return await replay_projections(
        served.settings.database_url,
        served.settings,
        live_schema=served.schema,
        schemas=_stores(app),
        wait_seconds=wait,
    )


async def _seen(app: Projections, case_id: str, events: int) -> bool:
    count = await app.served.pool.fetchval(
        "SELECT count(*) FROM events_seen WHERE case_id = $1", case_id
    )
    return bool(count == events)


async def _fully_projected(app: Projections) -> str:
    """A referred case recorded, and every event of it and its linked case projected before
    a test plants drift (a later event would mend what was planted); its id."""
    case_id, linked_id = await referred_case(app)
    await eventually(lambda: _seen(app, linked_id, 1), bool, "the linked case is seen")
    recorded = sum(v for (_, case), v in app.feed.versions.items() if case == case_id)
    await eventually(lambda: _seen(app, case_id, recorded), bool, "every event of the case seen")
    return case_id


async def test_a_replay_of_the_history_equals_the_live_read_models(
    projections: Projections,
) -> None:
    _, linked_id = await referred_case(projections)
    await eventually(lambda: _seen(projections, linked_id, 1), bool, "the linked case is seen")

    # As the demo calls it: the database alone, the rest read from the environment.
    report = await replay_projections(
        projections.served.settings.database_url,
        live_schema=projections.served.schema,
        schemas=_stores(projections),
        wait_seconds=20,
    )

    assert report.ok, [d.describe() for d in report.drift] + [str(report.behind)]
    assert report.events >= 15 and report.events_per_second > 0
    assert report.rows["journeys"] >= 2 and report.rows["events_seen"] >= 15
    assert {"journeys", "journey_items", "journey_forms", "events_seen"} <= set(report.rows)
    assert "principals" not in report.rows  # the kit's members, not a read model of history


async def test_drift_planted_in_the_live_tables_is_named_by_replay_and_by_verify(
    projections: Projections, database_url: str
) -> None:
    case_id = await _fully_projected(projections)
    pool = projections.served.pool
    stage = await pool.fetchval("SELECT stage FROM journeys WHERE case_id = $1", case_id)
    forms = await pool.fetch("SELECT * FROM journey_forms WHERE case_id = $1", case_id)
    await pool.execute("UPDATE journeys SET stage = 'assigned' WHERE case_id = $1", case_id)
    await pool.execute("DELETE FROM journey_forms WHERE case_id = $1", case_id)
    await pool.execute(
        "INSERT INTO journey_items VALUES ($1, 'item-forged', 1, 'housing', 'linked', 'accepted')",
        case_id,
    )

    report = await _replay(projections)

    drift = {d.table: d for d in report.drift}
    assert not report.ok
    assert drift["journeys"].different == 1
    assert f"{case_id} differs in stage" in drift["journeys"].examples
    assert drift["journey_forms"].missing == 1 and drift["journey_forms"].extra == 0
    assert drift["journey_items"].extra == 1
    assert f"extra {case_id}/item-forged" in drift["journey_items"].examples
    assert "journey_items" in drift and "events_seen" not in drift

    served = projections.served
    command = [
        str(Path(sys.executable).parent / "caseline"),
        "verify",
        "--wait",
        "10",
        *(arg for s, n in _stores(projections).items() for arg in ("--schema", f"{s}={n}")),
        "--schema",
        f"projections={served.schema}",
    ]
    done = subprocess.run(
        command,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "CASELINE_DEVELOPMENT": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "projections: drift in journeys: 1 different" in done.stdout
    assert "projections: drift in journey_forms: 1 missing" in done.stdout

    # Put the read models right again for the module's other tests.
    await pool.execute("UPDATE journeys SET stage = $2 WHERE case_id = $1", case_id, stage)
    await pool.executemany(
        "INSERT INTO journey_forms VALUES ($1, $2, $3, $4)", [tuple(f) for f in forms]
    )
    await pool.execute("DELETE FROM journey_items WHERE item_id = 'item-forged'")
    assert (await _replay(projections)).ok


async def test_an_event_the_live_projection_has_not_applied_is_behind_not_drift(
    projections: Projections,
) -> None:
    case_id = unique("case-unpublished")
    store = projections.feed.stores["intake"]
    from shared.application import CommandContext
    from shared.envelope import Actor, Role

    context = CommandContext(
        agency_id=AGENCY, actor=Actor(staff_id="staff", role=Role.CASE_MANAGER)
    )
    # Appended to the store, never published: the live consumer cannot have seen it.
    await store.append(case_id, 0, [context.envelope(case_id, CaseFound(source="walk_in"))])

    report = await _replay(projections, wait=1.0)

    assert not report.ok
    assert report.behind == {"projections.intake-journeys": 1}
    assert report.events_per_second > 0


async def test_a_rebuild_makes_the_live_read_models_the_history_s_again(
    projections: Projections,
) -> None:
    case_id = await _fully_projected(projections)
    pool = projections.served.pool
    # As after an upgrade that added a read model: rows its events never wrote, and a lost one.
    await pool.execute("DELETE FROM referral_attempts")
    await pool.execute("DELETE FROM journeys WHERE case_id = $1", case_id)
    served = projections.served

    rebuilt = await replay_projections(
        served.settings.database_url,
        served.settings,
        live_schema=served.schema,
        schemas=_stores(projections),
        wait_seconds=5,
        rebuild=True,
    )

    assert {d.table for d in rebuilt.drift} >= {"journeys", "referral_attempts"}
    assert {"journeys", "referral_attempts", "events_seen"} <= set(rebuilt.rebuilt)
    after = await _replay(projections)
    assert after.ok, [d.describe() for d in after.drift] + [str(after.behind)]
    journey = await served.http.get(
        f"/cases/{case_id}/journey", headers=projections.auth("auditor-1")
    )
    assert journey.status_code == 200 and journey.json()["referral_state"] == "completed"
    # Events the live consumers apply after the rebuild are still applied once.
    second, _ = await referred_case(projections)
    await eventually(
        lambda: served.http.get(f"/cases/{second}/journey", headers=projections.auth("auditor-1")),
        lambda answer: answer.status_code == 200 and answer.json()["referral_state"] == "completed",
        "a case recorded after the rebuild is projected",
    )
    assert (await _replay(projections)).ok


class _FutureCaseFound(intake.CaseFound):
    """A case found as a later version of intake records it, newer than any reader here."""

    schema_version: ClassVar[int] = 99


_FutureCaseFound.__name__ = "CaseFound"  # stored and published under the contract's type


async def test_an_event_the_live_consumer_dead_letters_is_left_out_by_the_replay_too(
    projections: Projections,
) -> None:
    case_id = unique("case-future")
    await projections.feed.record("intake", case_id, AGENCY, [_FutureCaseFound(source="walk_in")])
    pool = projections.served.pool

    async def dead_lettered() -> bool:
        found = await pool.fetchval(
            "SELECT count(*) FROM dead_lettered_messages WHERE reason LIKE '%v99%'"
        )
        return bool(found)

    await eventually(dead_lettered, bool, "the live consumer dead-letters the future event")

    report = await _replay(projections)

    assert report.ok, [d.describe() for d in report.drift] + [str(report.behind)]
    assert report.refused == {"projections.intake-journeys": 1}
    assert report.dead_lettered == {}


async def test_an_event_dead_lettered_live_that_the_history_applies_is_named(
    projections: Projections,
) -> None:
    _, linked_id = await referred_case(projections)
    await eventually(lambda: _seen(projections, linked_id, 1), bool, "the linked case is seen")
    pool = projections.served.pool
    # As if the live consumer had dead-lettered one event instead of applying it.
    kept = await pool.fetchrow(
        "DELETE FROM processed_messages WHERE ctid = (SELECT ctid FROM processed_messages "
        "WHERE consumer = 'projections.intake-journeys' LIMIT 1) RETURNING *"
    )
    await pool.execute(
        'INSERT INTO dead_lettered_messages (consumer, topic, "partition", "offset", '
        "event_id, error, reason) VALUES ($1, $2, $3, $4, $5, 'Planted', 'planted')",
        kept["consumer"],
        kept["topic"],
        kept["partition"],
        kept["offset"],
        str(kept["event_id"]),
    )

    report = await _replay(projections, wait=1.0)

    assert not report.ok and report.behind == {}
    assert report.dead_lettered == {"projections.intake-journeys": 1}

    await pool.execute("DELETE FROM dead_lettered_messages WHERE error = 'Planted'")
    await pool.execute(
        "INSERT INTO processed_messages SELECT $1, $2, $3, $4, $5",
        *(kept[c] for c in ("consumer", "event_id", "topic", "partition", "offset")),
    )
