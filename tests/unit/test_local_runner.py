"""Pure helpers of the local runners: configuration, ids, layout, topic names. No servers."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from caseline.catalog import all_topics, runnable_services
from caseline.infra import kafka
from caseline.infra import layout as stack
from caseline.infra.layout import (
    ComponentStatus,
    LocalLayout,
    LocalStackError,
    StackStatus,
    is_cluster_id,
    new_cluster_id,
    parse_properties,
    pick_pg_bin_dir,
    render_server_properties,
)
from shared.topics import DLQ_TOPIC, topic_for

TEMPLATE = (stack.DEPLOY_DIR / "server.properties").read_text()


def rendered(**overrides: object) -> dict[str, str]:
    args: dict[str, object] = {
        "kafka_port": 9092,
        "controller_port": 9093,
        "data_dir": Path("/srv/caseline/.local/kafka/data"),
    }
    args.update(overrides)
    return parse_properties(render_server_properties(TEMPLATE, **args))  # type: ignore[arg-type]


def test_server_properties_is_a_single_node_kraft_combined_broker() -> None:
    props = rendered()
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["log.dirs"] == "/srv/caseline/.local/kafka/data"


def test_server_properties_has_one_replica_of_everything() -> None:
    props = rendered()
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "3"
    assert props["auto.create.topics.enable"] == "false"


def test_server_properties_follow_the_ports() -> None:
    props = rendered(kafka_port=29092, controller_port=29099)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29099"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29099"
    assert "$" not in render_server_properties(
        TEMPLATE, kafka_port=1, controller_port=2, data_dir=Path("/d")
    )


def test_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(LocalStackError, match="placeholder"):
        render_server_properties(
            "a=${nope}\n", kafka_port=1, controller_port=2, data_dir=Path("/d")
        )


def test_cluster_id_is_22_chars_of_base64url_for_16_bytes() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
        assert is_cluster_id(cluster_id)


@pytest.mark.parametrize("value", ["", "short", "-" + "A" * 21, "A" * 23, "A" * 21 + "!"])
def test_is_cluster_id_refuses_other_shapes(value: str) -> None:
    assert not is_cluster_id(value)


def test_newest_postgres_is_picked_by_number_not_by_text() -> None:
    candidates = [Path(f"/usr/lib/postgresql/{v}/bin") for v in ("9.6", "15", "10", "x")]
    assert pick_pg_bin_dir(candidates) == Path("/usr/lib/postgresql/15/bin")
    assert pick_pg_bin_dir(candidates, major="10") == Path("/usr/lib/postgresql/10/bin")
    assert pick_pg_bin_dir(candidates, major="17") is None
    assert pick_pg_bin_dir([]) is None


def test_layout_defaults_to_dot_local_at_the_repository_root() -> None:
    layout = LocalLayout.from_env({}, repo_root=Path("/repo"))
    assert layout.root == Path("/repo/.local")
    assert (layout.kafka_port, layout.controller_port, layout.pg_port) == (9092, 9093, 5432)
    assert layout.kafka_bootstrap == "127.0.0.1:9092"
    assert layout.database_url == "postgresql://caseline:caseline@127.0.0.1:5432/caseline"
    assert layout.kafka_log == Path("/repo/.local/logs/kafka.log")
    assert layout.pg_data == Path("/repo/.local/postgres/data")


def test_layout_defaults_match_the_settings_defaults() -> None:
    from shared.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA

    layout = LocalLayout.from_env({})
    assert layout.kafka_bootstrap == DEFAULT_KAFKA
    assert layout.database_url == DEFAULT_DATABASE_URL
    assert (stack.REPO_ROOT / "pyproject.toml").is_file()


def test_layout_reads_its_environment_overrides() -> None:
    env = {
        "CASELINE_LOCAL_DIR": "elsewhere/stack",
        "CASELINE_KAFKA_PORT": "29092",
        "CASELINE_PG_PORT": "25432",
    }
    layout = LocalLayout.from_env(env, repo_root=Path("/repo"))
    assert layout.root == Path("/repo/elsewhere/stack")
    assert (layout.kafka_port, layout.controller_port, layout.pg_port) == (29092, 29093, 25432)
    absolute = LocalLayout.from_env({"CASELINE_LOCAL_DIR": "/tmp/x"}, repo_root=Path("/repo"))
    assert absolute.root == Path("/tmp/x")


@pytest.mark.parametrize(
    "env",
    [
        {"CASELINE_KAFKA_PORT": "kafka"},
        {"CASELINE_PG_PORT": "70000"},
        {"CASELINE_PG_PORT": "9092"},
        {"CASELINE_KAFKA_CONTROLLER_PORT": "9092"},
    ],
)
def test_layout_refuses_bad_ports(env: dict[str, str]) -> None:
    with pytest.raises(LocalStackError):
        LocalLayout.from_env(env, repo_root=Path("/repo"))


def test_status_report_names_the_owner_and_the_exports() -> None:
    status = StackStatus(
        kafka=ComponentStatus("Kafka", "127.0.0.1:9092", answering=True, pid=42),
        postgres=ComponentStatus("PostgreSQL", "127.0.0.1:5432", answering=True, external=True),
        kafka_bootstrap="127.0.0.1:9092",
        database_url="postgresql://caseline:caseline@127.0.0.1:5432/caseline",
    )
    assert status.healthy
    text = "\n".join(status.lines())
    assert "caseline up (pid 42)" in text
    assert "someone else" in text
    assert "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092" in text
    assert "export DATABASE_URL=postgresql://caseline:caseline@127.0.0.1:5432/caseline" in text
    down = StackStatus(
        kafka=ComponentStatus("Kafka", "127.0.0.1:9092", answering=False),
        postgres=status.postgres,
        kafka_bootstrap=status.kafka_bootstrap,
        database_url=status.database_url,
    )
    assert not down.healthy
    assert "not running" in down.kafka.line()


def test_topic_names() -> None:
    assert topic_for("intake") == "caseline.intake.v1"
    assert DLQ_TOPIC == "caseline.dlq.v1"
    assert all_topics() == (
        "caseline.intake.v1",
        "caseline.careplan.v1",
        "caseline.monitoring.v1",
        "caseline.closure.v1",
        "caseline.directory.v1",
        "caseline.dlq.v1",
    )
    with pytest.raises(ValueError):
        topic_for("Intake Service")


def test_log_tail_keeps_the_last_lines_indented() -> None:
    text = "\n".join(f"line {n}" for n in range(100))
    assert stack.tail(text, 3) == "    line 97\n    line 98\n    line 99"
    assert stack.tail("") == "    (empty)"


def test_a_layout_may_borrow_another_folders_kafka_jars() -> None:
    shared = LocalLayout.from_env({}, repo_root=Path("/repo"))
    assert shared.jars_from is None
    assert shared.kafka_libs == Path("/repo/.local/kafka/libs")
    private = LocalLayout(Path("/tmp/p"), 41001, 41002, 41003, jars_from=shared.kafka_libs)
    assert private.kafka_libs == Path("/repo/.local/kafka/libs")
    # Everything else stays in the private folder.
    assert private.kafka_data == Path("/tmp/p/kafka/data")
    assert private.kafka_pid_file == Path("/tmp/p/kafka/kafka.pid")
    assert private.pg_data == Path("/tmp/p/postgres/data")


def test_borrowed_jars_that_are_not_ready_are_refused_and_left_alone(tmp_path: Path) -> None:
    borrowed = tmp_path / "shared-libs"
    borrowed.mkdir()
    (borrowed / "kafka_2.13-0.jar").write_text("jar")
    (borrowed / ".caseline-pom-sha256").write_text("another pom\n")
    layout = LocalLayout(tmp_path / "private", 41001, 41002, 41003, jars_from=borrowed)
    with pytest.raises(LocalStackError, match="borrowed Kafka jars"):
        kafka._ensure_kafka_jars(layout, lambda _: None)
    left = sorted(p.name for p in borrowed.iterdir())
    assert left == [".caseline-pom-sha256", "kafka_2.13-0.jar"]
    assert not (tmp_path / "private").exists()


def test_borrowed_jars_that_are_ready_are_used_as_they_are(tmp_path: Path) -> None:
    borrowed = tmp_path / "shared-libs"
    borrowed.mkdir()
    digest = stack.pom_digest((stack.DEPLOY_DIR / "pom.xml").read_bytes())
    (borrowed / ".caseline-pom-sha256").write_text(digest + "\n")
    layout = LocalLayout(tmp_path / "private", 41001, 41002, 41003, jars_from=borrowed)
    kafka._ensure_kafka_jars(layout, lambda _: None)
    assert [p.name for p in borrowed.iterdir()] == [".caseline-pom-sha256"]


@pytest.mark.parametrize(
    ("stat", "ppid"),
    [
        ("1234 (postgres) S 1 1234 1234 0 -1 4194560 1089", 1),
        ("77 (postgres: caseline caseline 127.0.0.1(5) idle) S 1234 1234 1234 0", 1234),
        ("9 (a) b)) Z 42 9 9", 42),
        ("garbage", None),
    ],
)
def test_parent_pid_is_read_after_the_last_parenthesis(stat: str, ppid: int | None) -> None:
    assert stack.ppid_from_stat(stat) == ppid


def test_the_network_finds_its_services_in_their_folders_and_skips_the_template(
    tmp_path: Path,
) -> None:
    for name, has_bootstrap in (("billing", True), ("_template", True), ("later", False)):
        (tmp_path / name).mkdir()
        if has_bootstrap:
            (tmp_path / name / "bootstrap.py").write_text("")
    assert runnable_services(tmp_path) == ("billing",)
    assert all_topics(tmp_path)[-2:] == ("caseline.billing.v1", "caseline.dlq.v1")
    assert "template" not in " ".join(all_topics())
