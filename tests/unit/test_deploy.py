"""The compose file and Dockerfile operations teams run: valid, and shaped as the docs say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.harness import landed_services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
TOPICS = [
    "caseline.intake.v1",
    "caseline.careplan.v1",
    "caseline.monitoring.v1",
    "caseline.closure.v1",
    "caseline.directory.v1",
    "caseline.dlq.v1",
]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    return document


def _check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    checker = Path(sys.executable).parent / "check-jsonschema"
    # A proxy that refuses every connection: the vendored schema must be enough, since
    # these machines have no internet.
    offline = os.environ | {
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    return subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        env=offline,
        timeout=120,
        check=False,
    )


def test_the_compose_file_follows_the_compose_spec_offline() -> None:
    result = _check_compose_schema(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_does_catch_a_broken_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  kafka:\n    image: apache/kafka:4.1.1\n    healthcheck: yes\n")

    result = _check_compose_schema(broken)

    assert result.returncode == 1, result.stdout + result.stderr


def test_kafka_is_the_official_4x_image_in_kraft_combined_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = {key: str(value) for key, value in kafka["environment"].items()}

    image, tag = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert tag.startswith("4.")
    assert env["KAFKA_NODE_ID"] == "1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "127.0.0.1:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert any(port.startswith("127.0.0.1:9092:") for port in kafka["ports"])
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_postgres_has_the_caseline_database_a_volume_and_a_healthcheck(
    compose: dict[str, Any],
) -> None:
    postgres = compose["services"]["postgres"]

    assert postgres["image"].split(":")[0] == "postgres"
    assert postgres["image"].split(":")[1].split(".")[0] in {"16", "17"}
    assert postgres["environment"] == {
        "POSTGRES_USER": "caseline",
        "POSTGRES_PASSWORD": "caseline",
        "POSTGRES_DB": "caseline",
    }
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_the_topics_job_creates_every_caseline_topic_once_kafka_is_healthy(
    compose: dict[str, Any],
) -> None:
    topics = compose["services"]["topics"]
    script = " ".join(topics["command"])

    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "kafka-topics.sh" in script
    assert "--if-not-exists" in script
    assert '--partitions "$${PARTITIONS}"' in script  # $$: compose's escape
    # Three partitions unless the operator asks for more (README: scaling out).
    assert topics["environment"]["PARTITIONS"] == "${CASELINE_TOPIC_PARTITIONS:-3}"
    for topic in TOPICS:
        assert topic in script


def test_the_service_template_carries_the_common_environment(compose: dict[str, Any]) -> None:
    env = compose["x-caseline-service"]["environment"]

    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["DATABASE_URL"] == "postgresql://caseline:caseline@postgres:5432/caseline"
    assert env["CASELINE_LOG_FORMAT"] == "json"
    assert env["CASELINE_TOKEN_SECRET"].startswith("${CASELINE_TOKEN_SECRET:?")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = dockerfile.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def test_the_image_is_python_311_run_by_a_non_root_user_with_caseline_as_entrypoint() -> None:
    instructions = _instructions(DOCKERFILE)
    by_keyword: dict[str, list[str]] = {}
    for keyword, arguments in instructions:
        by_keyword.setdefault(keyword, []).append(arguments)

    assert by_keyword["FROM"][-1].startswith("python:3.11")
    assert any("pip install ." in run for run in by_keyword["RUN"])
    last_user = by_keyword["USER"][-1].split(":")[0]
    assert last_user not in {"root", "0"}
    assert json.loads(by_keyword["ENTRYPOINT"][-1]) == ["caseline"]
    assert [k for k, _ in instructions].index("USER") < [k for k, _ in instructions].index(
        "ENTRYPOINT"
    )


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set(DOCKERIGNORE.read_text().split())

    assert {".venv", ".local", ".git", "**/__pycache__", ".pytest_cache"} <= ignored


def test_the_landed_services_run_from_the_template_with_a_healthcheck(
    compose: dict[str, Any],
) -> None:
    for service in landed_services():
        spec = compose["services"][service]
        assert spec["command"][:2] == ["serve", service]
        assert spec["image"] == "caseline:local"
        assert "/health" in " ".join(spec["healthcheck"]["test"])
        assert spec["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert "CASELINE_PII_KEK" in spec["environment"]
        assert spec["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_topics_are_created_with_three_partitions_unless_the_operator_asks_for_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from shared.settings import load_settings

    monkeypatch.delenv("CASELINE_TOPIC_PARTITIONS", raising=False)
    assert load_settings().topic_partitions == 3
    monkeypatch.setenv("CASELINE_TOPIC_PARTITIONS", "12")
    assert load_settings().topic_partitions == 12
    monkeypatch.setenv("CASELINE_TOPIC_PARTITIONS", "0")
    with pytest.raises(ValidationError):
        load_settings()
