"""Careplan joins the compose file the way the landed services did: the template, its own
port, and the /health healthcheck; `caseline serve careplan` finds its bootstrap."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "docker-compose.yml"


def test_careplan_runs_in_compose_from_the_template_with_a_healthcheck() -> None:
    compose: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    spec = compose["services"]["careplan"]

    assert spec["command"][:2] == ["serve", "careplan"]
    assert spec["image"] == "caseline:local"
    assert "/health" in " ".join(spec["healthcheck"]["test"])
    assert "CASELINE_PII_KEK" in spec["environment"]
    assert spec["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert spec["ports"] == ["127.0.0.1:8102:8000"]


def test_caseline_serve_careplan_finds_a_bootstrap_that_builds_the_app() -> None:
    bootstrap = importlib.import_module("services.careplan.bootstrap")

    assert bootstrap.SERVICE == "careplan"
    assert callable(bootstrap.build)
