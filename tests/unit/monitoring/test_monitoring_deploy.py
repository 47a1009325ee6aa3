"""Monitoring joins the compose file the way the landed services did: the template, its own
port, the /health healthcheck; `caseline serve monitoring` finds its bootstrap."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from services.monitoring.bootstrap import service_spec
from shared.settings import load_settings

COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "docker-compose.yml"


def test_monitoring_runs_in_compose_from_the_template_with_a_healthcheck() -> None:
    compose: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    spec = compose["services"]["monitoring"]

    assert spec["command"][:2] == ["serve", "monitoring"]
    assert spec["image"] == "caseline:local"
    assert "/health" in " ".join(spec["healthcheck"]["test"])
    assert "CASELINE_PII_KEK" in spec["environment"]
    assert spec["ports"] == ["127.0.0.1:8103:8000"]


def test_caseline_serve_monitoring_finds_a_bootstrap_that_builds_the_app() -> None:
    bootstrap = importlib.import_module("services.monitoring.bootstrap")

    assert bootstrap.SERVICE == "monitoring"
    assert callable(bootstrap.build)


def test_r6d_the_overdue_scheduler_is_a_task_of_the_service_spec_started_after_compose() -> None:
    spec = service_spec(load_settings())

    # The runtime names it `<kind>:<name>` on /health: `scheduler:overdue`, as operators know it.
    assert [(task.kind, task.name) for task in spec.tasks] == [("scheduler", "overdue")]
    assert spec.compose is not None
