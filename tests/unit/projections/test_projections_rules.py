"""Projections without I/O: stages only move forward, echoes are passed over, a timeline row
shows an event's scalar codes, and the service reads every topic through the contracts."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.careplan.contract import PUBLISHED as CAREPLAN_EVENTS
from services.closure.contract import PUBLISHED as CLOSURE_EVENTS
from services.closure.contract import Provider, ReferralCompleted
from services.directory.contract import PRINCIPAL_EVENTS
from services.intake.contract import PUBLISHED as INTAKE_EVENTS
from services.intake.contract import CaseAssigned
from services.monitoring.contract import PUBLISHED as MONITORING_EVENTS
from services.projections.adapters.network_model import LIMIT_EVENTS
from services.projections.bootstrap import SERVICE, Topics, build, service_spec
from services.projections.contract import PUBLISHED
from services.projections.domain.journey import (
    CLOSED_STAGES,
    RANK,
    STAGE_EVENT_TYPES,
    STAGE_OF_EVENT,
    Stage,
    is_echo,
    key_codes,
    stage_of,
)
from services.projections.entrypoints.timeline import render_timeline
from shared.settings import load_settings


def test_a_stage_reached_later_ranks_after_every_stage_before_it() -> None:
    order = [
        Stage.FOUND,
        Stage.SCREENED_IN,
        Stage.ASSESSED,
        Stage.ASSIGNED,
        Stage.PLANNING,
        Stage.IN_FORCE,
        Stage.MONITORING,
        Stage.EVALUATED,
    ]
    assert [RANK[s] for s in order] == sorted(RANK[s] for s in order)
    assert all(RANK[closed] > RANK[s] for closed in CLOSED_STAGES for s in order)
    assert STAGE_OF_EVENT["CaseTerminated"] is Stage.TERMINATED


def test_r8_a_termination_closes_the_journey_and_a_screening_out_does_too() -> None:
    assert {STAGE_OF_EVENT["CaseTerminated"], STAGE_OF_EVENT["CaseScreenedOut"]} == CLOSED_STAGES


def test_what_a_service_only_learned_from_another_is_an_echo_and_passed_over() -> None:
    assert is_echo("CaseTerminationLearned") and is_echo("ManagerLearned")
    assert not is_echo("CaseTerminated") and not is_echo("ReviewRecorded")


def test_a_timeline_row_shows_an_event_s_scalar_codes_one_level_deep() -> None:
    completed = ReferralCompleted(
        referral_id="ref-1", linked_case_id="case-2", target=Provider(agency_id="ag-2")
    )
    assert key_codes(completed) == {
        "referral_id": "ref-1",
        "linked_case_id": "case-2",
        "target.agency_id": "ag-2",
    }
    assigned = CaseAssigned(
        staff_id="cm-1",
        agency_id="ag-1",
        override=False,
        override_reason=None,
        caseload_after=3,
        caseload_limit=10,
    )
    assert key_codes(assigned)["caseload_after"] == 3 and "override_reason" not in key_codes(
        assigned
    )


def test_the_timeline_page_escapes_what_it_shows() -> None:
    page = render_timeline(
        "case-1",
        [{"case_id": "case-1", "agency_id": "<b>x</b>", "stage": "found"}],
        [],
    )
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_projections_publishes_nothing_and_reads_every_service_through_its_contract() -> None:
    assert PUBLISHED == ()
    names = ("projections", "intake", "careplan", "monitoring", "closure", "directory")
    spec = service_spec(load_settings(), topics=Topics(**{n: f"t.{n}.v1" for n in names}))
    assert spec.name == SERVICE and spec.topic == "t.projections.v1"
    assert {c.name: (c.topics, c.reads) for c in spec.consumers} == {
        "intake-journeys": (("t.intake.v1",), INTAKE_EVENTS),
        "careplan-journeys": (("t.careplan.v1",), CAREPLAN_EVENTS),
        "monitoring-journeys": (("t.monitoring.v1",), MONITORING_EVENTS),
        "closure-journeys": (("t.closure.v1",), CLOSURE_EVENTS),
        "directory-limits": (("t.directory.v1",), LIMIT_EVENTS),
        "principals": (("t.directory.v1",), PRINCIPAL_EVENTS),
    }


def test_projections_serves_its_read_routes_and_health() -> None:
    app = build(load_settings(db_schema="t_unit_projections"))
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert {
        ("GET", "/cases/{case_id}/journey"),
        ("GET", "/cases/{case_id}/timeline"),
        ("GET", "/agencies/{agency_id}/dashboard"),
        ("GET", "/network/figures"),
        ("GET", "/network/referral-flows"),
        ("GET", "/clients/{client_id}/journey"),
        ("GET", "/agencies/{agency_id}/addressed"),
        ("GET", "/health"),
    } <= routes
    assert not any(method != "GET" for method, _ in routes)


def _at(minute: int) -> datetime:
    return datetime(2026, 3, 2, 9, minute, tzinfo=UTC)


def test_a_case_stands_at_the_furthest_stage_its_events_reached() -> None:
    assert stage_of([]) is Stage.FOUND
    seen = [("CaseFound", _at(0)), ("CaseAssigned", _at(5)), ("PlanAgreed", _at(9))]
    assert stage_of(seen) is Stage.IN_FORCE


def test_r6d_a_return_to_planning_sets_back_what_came_before_it_only() -> None:
    reviewed = [("PlanAgreed", _at(1)), ("ReviewRecorded", _at(2))]
    returned = [*reviewed, ("CaseReturnedToPlanning", _at(3))]
    assert stage_of(returned) is Stage.PLANNING
    assert stage_of([*returned, ("PlanAgreed", _at(4))]) is Stage.IN_FORCE
    assert stage_of([*returned, ("PlanAgreed", _at(4)), ("ReviewRecorded", _at(5))]) is (
        Stage.MONITORING
    )


def test_r8_a_closed_case_stays_closed_whatever_is_seen_with_it() -> None:
    ended = [("CaseTerminated", _at(1)), ("CaseReturnedToPlanning", _at(0))]
    assert stage_of([*ended, ("EvaluationRecorded", _at(2))]) is Stage.TERMINATED


@given(
    st.lists(
        st.tuples(st.sampled_from(STAGE_EVENT_TYPES), st.integers(min_value=0, max_value=59)),
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_a_case_s_stage_is_the_same_whatever_order_its_events_arrive_in(
    events: list[tuple[str, int]], shuffler: random.Random
) -> None:
    seen = [(kind, _at(minute)) for kind, minute in events]
    arrived = list(seen)
    shuffler.shuffle(arrived)
    assert stage_of(arrived) is stage_of(seen)
