"""How the careplan service is composed: its topics, consumers and routes (nothing connects)."""

from __future__ import annotations

from services.careplan.adapters import facts
from services.careplan.bootstrap import SERVICE, Topics, build, service_spec
from services.monitoring.contract import PlanRevisionRequired
from shared.settings import load_settings


def test_careplan_publishes_to_its_topic_and_learns_from_intake_directory_closure_monitoring() -> (
    None
):
    spec = service_spec(load_settings())
    assert spec.name == SERVICE == "careplan"
    assert spec.topic == "caseline.careplan.v1"
    learned, revisions = spec.consumers
    assert learned.name == "facts"
    assert learned.topics == ("caseline.intake.v1", "caseline.directory.v1", "caseline.closure.v1")
    assert learned.reads == facts.READS
    assert revisions.name == "revisions"
    assert revisions.topics == ("caseline.monitoring.v1",)
    assert revisions.reads == (PlanRevisionRequired,)


def test_the_review_policy_r6d_is_bound_to_the_ports_the_runtime_composes() -> None:
    """R6d: the policy reaches careplan's command path through the ports `compose` built,
    never through a handle filled in after the spec was made."""
    revisions = service_spec(load_settings()).consumers[1]
    assert revisions.handle is None and revisions.bind is not None


def test_tests_can_give_careplan_topics_of_their_own() -> None:
    topics = Topics(
        careplan="t.c.v1",
        intake="t.i.v1",
        directory="t.d.v1",
        monitoring="t.m.v1",
        closure="t.x.v1",
    )
    spec = service_spec(load_settings(), topics=topics)
    assert spec.topic == "t.c.v1"
    assert [c.topics for c in spec.consumers] == [("t.i.v1", "t.d.v1", "t.x.v1"), ("t.m.v1",)]


def test_the_planning_implementation_and_board_routes_are_served() -> None:
    app = build(load_settings(db_schema="t_unit_careplan"))
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert {
        ("POST", "/cases/{case_id}/crisis-interventions"),
        ("POST", "/cases/{case_id}/plan-versions"),
        ("POST", "/cases/{case_id}/plan-versions/{version}/agreement"),
        ("POST", "/cases/{case_id}/direct-services"),
        ("POST", "/cases/{case_id}/items/{item_id}/links"),
        ("POST", "/links/{link_id}/answer"),
        ("POST", "/cases/{case_id}/advocacies"),
        ("POST", "/cases/{case_id}/advocacies/{advocacy_id}/steps"),
        ("POST", "/cases/{case_id}/advocacies/{advocacy_id}/conclusion"),
        ("GET", "/cases/{case_id}"),
        ("GET", "/cases/{case_id}/plan-versions/{version}/words"),
        ("GET", "/agencies/{agency_id}/board"),
        ("GET", "/agencies/{agency_id}/inbox"),
        ("GET", "/vault/access-log"),
        ("GET", "/health"),
    } <= routes
