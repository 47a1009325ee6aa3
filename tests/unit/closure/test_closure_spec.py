"""Closure's composition and deployment: the topics and event types its consumers read, the
routes it serves, its scheduler task, and its compose entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from services.careplan.contract import CaseReturnedToPlanning, ServiceDelivered
from services.closure.bootstrap import SERVICE, Topics, service_spec
from services.closure.contract import PUBLISHED
from services.directory.contract import AgencyClosed, StaffDeparted
from services.intake.contract import CaseAssigned, ConsentRecorded
from services.monitoring.contract import EvaluationRecorded
from shared.settings import load_settings

COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "docker-compose.yml"
TOPICS = Topics.in_namespace("unit")


def _spec() -> Any:
    return service_spec(load_settings(development=True), topics=TOPICS)


def test_closure_publishes_on_its_own_topic_and_reads_the_four_others() -> None:
    spec = _spec()
    assert spec.name == SERVICE == "closure"
    assert spec.topic == "caseline.unit-closure.v1"
    by_name = {c.name: c for c in spec.consumers}
    assert by_name["network"].topics == (TOPICS.directory,)
    assert set(by_name["cases"].topics) == {TOPICS.intake, TOPICS.careplan, TOPICS.monitoring}


def test_the_consumers_read_declared_contract_events_only() -> None:
    by_name = {c.name: c for c in _spec().consumers}
    assert {AgencyClosed, StaffDeparted} <= set(by_name["network"].reads)
    assert {
        CaseAssigned,
        ConsentRecorded,
        ServiceDelivered,
        CaseReturnedToPlanning,
        EvaluationRecorded,
    } <= set(by_name["cases"].reads)


def test_every_published_event_is_closures_and_names_no_person() -> None:
    assert all(e.service == "closure" for e in PUBLISHED)
    words = {"name", "notes", "text", "wording", "address", "phone"}
    for event in PUBLISHED:
        assert not words & set(event.model_fields), event.__name__


def test_the_routes_and_the_scheduler_task_are_served() -> None:
    spec = _spec()
    paths = {route.path for router in spec.routers for route in router.routes}  # type: ignore[attr-defined]
    assert {
        "/cases/{case_id}/termination",
        "/cases/{case_id}/referral-options",
        "/referrals/{referral_id}/acceptance",
        "/referrals/{referral_id}/decline",
        "/referrals/{referral_id}/fhir",
        "/board",
        "/inbox",
    } <= paths
    assert [t.name for t in spec.tasks] == ["closure"]


def test_closure_runs_in_compose_from_the_template_with_a_healthcheck() -> None:
    compose: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    entry = compose["services"]["closure"]
    assert entry["command"][:2] == ["serve", "closure"]
    assert "/health" in " ".join(entry["healthcheck"]["test"])
    assert entry["ports"] == ["127.0.0.1:8104:8000"]
