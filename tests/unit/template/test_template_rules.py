"""The template's rules on the pure domain, and how it is composed: no Kafka, no database.

A copy of the template keeps these tests, renamed, as the first of its own.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from caseline.catalog import runnable_services
from caseline.cli import app as cli_app
from services._template.bootstrap import SERVICE, Topics, build, service_spec
from services._template.contract import PUBLISHED
from services._template.domain.commands import CloseItem, OpenItem
from services._template.domain.errors import R1, OutOfOrder, TemplateError
from services._template.domain.events import ItemClosed, ItemOpened
from services._template.domain.model import Item, decide, evolve
from services.directory.contract import PRINCIPAL_EVENTS
from shared.envelope import DomainEvent, registry
from shared.errors import RuleViolation
from shared.settings import load_settings


def folded(*events: DomainEvent) -> Item:
    state = Item(agency_id="ag-1")
    for event in events:
        state = evolve(state, event)
    return state


def test_opening_a_new_item_records_its_kind() -> None:
    assert decide(folded(), OpenItem(kind="home-visit")) == [ItemOpened(kind="home-visit")]


def test_closing_an_open_item_records_its_outcome() -> None:
    state = folded(ItemOpened(kind="home-visit"))
    assert decide(state, CloseItem(outcome="done")) == [ItemClosed(outcome="done")]


def test_r1_an_item_is_not_closed_before_it_is_opened_and_the_answer_names_the_next_step() -> None:
    with pytest.raises(OutOfOrder) as refused:
        decide(folded(), CloseItem(outcome="done"))
    assert refused.value.rule == R1
    assert "open it first" in refused.value.reason


def test_r1_an_item_is_closed_once_and_opened_once() -> None:
    closed = folded(ItemOpened(kind="k"), ItemClosed(outcome="dropped"))
    for command in (CloseItem(outcome="done"), OpenItem(kind="k")):
        with pytest.raises(OutOfOrder) as refused:
            decide(closed, command)
        assert refused.value.rule == R1


def test_every_refusal_is_a_rule_violation_of_the_templates_own_family() -> None:
    with pytest.raises(RuleViolation) as refused:
        decide(folded(), CloseItem(outcome="done"))
    assert isinstance(refused.value, TemplateError)


def test_the_state_is_folded_from_the_whole_stream() -> None:
    state = folded(ItemOpened(kind="form"), ItemClosed(outcome="done"))
    assert state == Item(agency_id="ag-1", stage="closed", kind="form", outcome="done")


def test_the_template_names_its_events_by_its_own_service() -> None:
    assert {cls.service for cls in PUBLISHED} == {SERVICE} == {"template"}
    assert registry.event_class("template", "ItemOpened") is ItemOpened
    assert ItemOpened(kind="k").event_type() == "ItemOpened"


def test_the_template_reads_its_own_topic_and_the_directorys_members() -> None:
    spec = service_spec(load_settings(), topics=Topics(template="t.t.v1", directory="t.d.v1"))
    assert spec.topic == "t.t.v1" and spec.compose is not None
    read_model, members = spec.consumers
    assert (read_model.topics, read_model.reads) == (("t.t.v1",), PUBLISHED)
    assert (members.topics, members.reads) == (("t.d.v1",), PRINCIPAL_EVENTS)


def test_the_template_serves_its_routes_and_health() -> None:
    app = build(load_settings(db_schema="t_unit_template"))
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert {
        ("POST", "/items"),
        ("POST", "/items/{item_id}/close"),
        ("GET", "/items/{item_id}"),
        ("GET", "/health"),
    } <= routes


def test_caseline_serve_never_offers_the_template() -> None:
    assert "_template" not in runnable_services() and "template" not in runnable_services()
    assert {"directory", "intake"} <= set(runnable_services())
    for name in ("_template", "template"):
        result = CliRunner().invoke(cli_app, ["serve", name])
        assert result.exit_code == 2, result.output
