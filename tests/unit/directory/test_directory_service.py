"""How the directory service is composed: its topics, consumer and routes (nothing connects)."""

from __future__ import annotations

from services.directory.bootstrap import SERVICE, Topics, build, service_spec
from shared.settings import load_settings


def test_the_directory_publishes_to_its_topic_and_reads_its_own_intakes_and_closures_r12() -> None:
    spec = service_spec(load_settings())
    assert spec.name == SERVICE == "directory"
    assert spec.topic == "caseline.directory.v1"
    [consumer] = spec.consumers
    assert consumer.name == "read-model"
    assert consumer.topics == ("caseline.directory.v1", "caseline.intake.v1", "caseline.closure.v1")
    # R12: of closure's events only the termination, which lowers a caseload.
    assert [e.event_type() for e in consumer.reads if e.service == "closure"] == ["CaseTerminated"]


def test_tests_can_give_the_directory_topics_of_their_own() -> None:
    topics = Topics(directory="t.d.v1", intake="t.i.v1", closure="t.c.v1")
    spec = service_spec(load_settings(), topics=topics)
    assert spec.topic == "t.d.v1" and spec.consumers[0].topics == ("t.d.v1", "t.i.v1", "t.c.v1")


def test_the_admin_and_query_routes_are_served() -> None:
    app = build(load_settings(db_schema="t_unit_directory"))
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert {
        ("POST", "/agencies"),
        ("GET", "/agencies"),
        ("GET", "/agencies/{agency_id}"),
        ("POST", "/agencies/{agency_id}/departments"),
        ("POST", "/agencies/{agency_id}/services"),
        ("POST", "/agencies/{agency_id}/services/{service_id}/withdraw"),
        ("PUT", "/agencies/{agency_id}/services/{service_id}/capacity"),
        ("POST", "/agencies/{agency_id}/close"),
        ("POST", "/agencies/{agency_id}/staff"),
        ("PUT", "/agencies/{agency_id}/staff/{staff_id}/caseload-limit"),
        ("POST", "/agencies/{agency_id}/staff/{staff_id}/depart"),
        ("GET", "/services"),
        ("GET", "/staff"),
        ("GET", "/health"),
    } <= routes


def test_of_intakes_events_the_caseload_projection_reads_the_two_assignments_only() -> None:
    """R12: caseloads come from intake's assignments, classes of intake's contract."""
    from services.directory.bootstrap import service_spec
    from services.intake import contract as intake
    from shared.settings import Settings

    (read_model,) = service_spec(Settings()).consumers
    read_from_intake = {cls for cls in read_model.reads or () if cls.service == "intake"}
    assert read_from_intake == {intake.CaseAssigned, intake.CaseReassigned}
