"""The multi-agency fan-out on the real stack (R8, R9): an agency's closure terminates every
open case of it, at any stage, with its referral, once however often the event is delivered;
a manager's departure terminates the cases they still hold on the day, not the ones a
supervisor reassigned before it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.closure.application.scheduler import ClosureScheduler
from services.directory.contract import AgencyClosed, StaffDeparted
from services.intake.contract import CaseFound, CaseReassigned, CaseSource, ReassignmentReason
from shared.codec import to_kafka
from shared.vocabulary import NeedDomain
from tests.integration.closure.conftest import (
    TODAY,
    Running,
    agency,
    eventually,
    open_case,
    unique,
)

pytestmark = pytest.mark.infra

HOUSING = NeedDomain.HOUSING


async def _redeliver_last(app: Running, stream: str) -> None:
    """Publish the directory's last event on `stream` again, as Kafka may redeliver it."""
    upstream = app.stack.directory
    stored = (await upstream.store.read_stream_raw(stream))[-1]
    record = to_kafka(stored, "directory")
    await app.stack.producer.send_and_wait(
        app.stack.topics.directory, value=record.value, key=record.key, headers=record.headers
    )


async def _terminations(app: Running, case_ids: list[str]) -> dict[str, list[str]]:
    return {c: await app.events(c) for c in case_ids}


async def test_an_agency_closing_terminates_every_open_case_at_any_stage_once_with_its_referral_r9(
    closure: Running,
) -> None:
    closing = await agency(closure, HOUSING)
    nearest = await agency(closure, HOUSING)
    other = await agency(closure, HOUSING)
    consent = (nearest.agency_id, other.agency_id)
    assessed, _ = await open_case(closure, closing, consent_for=consent)
    # One client was already served by the agency that would rank first: it is skipped.
    first, second = sorted((nearest, other), key=lambda a: a.agency_id)
    served_client = unique("client")
    await open_case(closure, first, client_id=served_client)
    served, _ = await open_case(closure, closing, client_id=served_client, consent_for=consent)
    at_intake = unique("case")
    await closure.stack.intake.record(
        at_intake, closing.agency_id, CaseFound(source=CaseSource.OUTREACH)
    )
    await eventually(lambda: closure.events(at_intake), bool, "the intake-stage case learned")
    cases = [assessed, served, at_intake]
    await closure.stack.directory.record(
        closing.agency_id, closing.agency_id, AgencyClosed(closed_on=TODAY, reason="funding_ended")
    )
    for _ in range(2):
        await _redeliver_last(closure, closing.agency_id)
    histories = await eventually(
        lambda: _terminations(closure, cases),
        lambda h: all("CaseTerminated" in e for e in h.values()),
        "every open case terminated",
    )
    # A scheduler pass more changes nothing.
    await ClosureScheduler(closure.app.state.runtime.ports).run_once()
    histories = await _terminations(closure, cases)
    for case_id, events in histories.items():
        assert events.count("CaseTerminated") == 1, (case_id, events)
        referral = [e for e in events if e in ("ReferralIssued", "ReferralPending")]
        assert len(referral) == 1, (case_id, events)
        assert events.index("CaseTerminated") + 1 == events.index(referral[0])
    assert histories[at_intake][-1] == "ReferralPending"  # no client, no consent yet
    targets = await closure.pool.fetch(
        "SELECT case_id, target_agency_id FROM closure_referrals WHERE case_id = ANY($1)", cases
    )
    target_of = {r["case_id"]: r["target_agency_id"] for r in targets}
    assert target_of[assessed] == first.agency_id
    assert target_of[served] == second.agency_id


async def test_a_departed_manager_s_cases_end_on_the_day_but_a_reassigned_one_stays_open_r8_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    target = await agency(closure, HOUSING)
    kept, _ = await open_case(closure, home, consent_for=(target.agency_id,))
    ended, _ = await open_case(closure, home, consent_for=(target.agency_id,))
    await closure.stack.intake.record(
        kept,
        home.agency_id,
        CaseReassigned(
            from_staff_id="mgr-1",
            to_staff_id="mgr-2",
            reason=ReassignmentReason.STAFF_DEPARTED,
        ),
    )
    await eventually(
        lambda: closure.events(kept), lambda e: e.count("ManagerLearned") == 2, "reassignment"
    )
    departure_day = TODAY + timedelta(days=3)
    await closure.stack.directory.record(
        home.agency_id,
        home.agency_id,
        StaffDeparted(staff_id="mgr-1", departed_on=departure_day, reason="resigned"),
    )
    await eventually(
        lambda: closure.pool.fetchval(
            "SELECT count(*) FROM closure_fanout WHERE case_id = $1", ended
        ),
        lambda n: n == 1,
        "the departure queued",
    )
    assert "CaseTerminated" not in await closure.events(ended)  # not before the day
    clock = closure.stack.clock
    try:
        clock.day = departure_day
        events = await eventually(
            lambda: closure.events(ended), lambda e: "CaseTerminated" in e, "terminated on the day"
        )
        assert events[-2:] == ["CaseTerminated", "ReferralIssued"]
        reason = await closure.pool.fetchval(
            "SELECT reason FROM closure_cases WHERE case_id = $1", ended
        )
        assert reason == "manager_left"
        assert "CaseTerminated" not in await closure.events(kept)
    finally:
        clock.day = TODAY


async def test_a_case_learned_after_its_agency_closed_is_terminated_under_the_same_closure_r9(
    closure: Running,
) -> None:
    closing = await agency(closure, HOUSING)
    await closure.stack.directory.record(
        closing.agency_id, closing.agency_id, AgencyClosed(closed_on=TODAY, reason="merged")
    )
    await eventually(
        lambda: closure.pool.fetchval(
            "SELECT closed_by FROM network_agencies WHERE agency_id = $1", closing.agency_id
        ),
        lambda found: found is not None,
        "the closure learned",
    )
    late, _ = await open_case(closure, closing, wait=False)
    events = await eventually(
        lambda: closure.events(late), lambda e: "CaseTerminated" in e, "the late case terminated"
    )
    assert events.count("CaseTerminated") == 1
    reason = await closure.pool.fetchval(
        "SELECT reason FROM closure_cases WHERE case_id = $1", late
    )
    assert reason == "agency_closed"
