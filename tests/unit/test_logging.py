"""Structured logging: what a configured service actually writes to stderr."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import structlog

from shared.logging import bind_event_context, configure_logging, event_context, get_logger
from shared.settings import load_settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Each test configures logging for itself; leave the process as it was found."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _json_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_a_json_line_carries_the_bound_event_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(log_format="json", service="intake"))
    case_id, event_id, correlation_id = "case-42", uuid.uuid4(), uuid.uuid4()

    with event_context(case_id=case_id, event_id=event_id, correlation_id=correlation_id):
        get_logger("caseline.test").info("event appended", version=3)

    [line] = _json_lines(capsys.readouterr().err)
    assert line["message"] == "event appended"
    assert line["version"] == 3
    assert line["case_id"] == "case-42"
    assert line["event_id"] == str(event_id)
    assert line["correlation_id"] == str(correlation_id)
    assert line["service"] == "intake"
    assert line["level"] == "info"
    assert line["logger"] == "caseline.test"
    assert line["timestamp"].endswith("Z")
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None


def test_standard_library_records_come_out_in_the_same_json_shape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_format="json", service="closure"))
    bind_event_context(case_id="case-9", correlation_id="corr-1")

    logging.getLogger("aiokafka.consumer").warning("rebalancing %s partitions", 3)

    [line] = _json_lines(capsys.readouterr().err)
    assert line["message"] == "rebalancing 3 partitions"
    assert line["logger"] == "aiokafka.consumer"
    assert line["level"] == "warning"
    assert line["case_id"] == "case-9"
    assert line["correlation_id"] == "corr-1"
    assert line["service"] == "closure"
    assert "event_id" not in line  # None is "not known here", not logged as null


def test_uvicorn_records_reach_the_root_handler_instead_of_their_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    uvicorn_logger.addHandler(logging.StreamHandler())
    uvicorn_logger.propagate = False
    configure_logging(load_settings(log_format="json"))

    uvicorn_logger.info("Application startup complete.")

    assert uvicorn_logger.handlers == []
    [line] = _json_lines(capsys.readouterr().err)
    assert line["logger"] == "uvicorn.error"


def test_an_exception_is_logged_as_text_inside_the_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_format="json"))

    try:
        raise ValueError("bad payload")
    except ValueError:
        get_logger("caseline.test").exception("could not decode")

    [line] = _json_lines(capsys.readouterr().err)
    assert "ValueError: bad payload" in line["exception"]


def test_event_context_restores_the_ids_bound_before_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_format="json"))
    log = get_logger("caseline.test")

    with event_context(case_id="outer", correlation_id="corr-outer"):
        with event_context(case_id="inner", event_id="evt-1"):
            log.info("inside")
        log.info("after")
    log.info("outside")

    inside, after, outside = _json_lines(capsys.readouterr().err)
    assert (inside["case_id"], inside["event_id"], inside["correlation_id"]) == (
        "inner",
        "evt-1",
        "corr-outer",
    )
    assert after["case_id"] == "outer"
    assert "event_id" not in after
    assert not {"case_id", "event_id", "correlation_id"} & outside.keys()
    assert structlog.contextvars.get_contextvars() == {}


def test_event_context_restores_even_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), event_context(case_id="case-1"):
        raise RuntimeError("handler failed")

    assert structlog.contextvars.get_contextvars() == {}


def test_configuring_twice_does_not_duplicate_lines_and_the_last_call_wins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_format="console", service="first"))
    configure_logging(load_settings(log_format="json", service="second"))

    get_logger("caseline.test").info("once")

    [line] = _json_lines(capsys.readouterr().err)
    assert line["service"] == "second"


def test_auto_format_writes_json_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_format="auto"))

    get_logger("caseline.test").info("piped")

    [line] = _json_lines(capsys.readouterr().err)
    assert line["message"] == "piped"


def test_console_format_writes_readable_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(log_format="console", service="monitoring"))

    with event_context(case_id="case-5"):
        get_logger("caseline.test").info("home visit recorded")

    text = capsys.readouterr().err
    assert "home visit recorded" in text
    assert "case_id=case-5" in text
    assert "service=monitoring" in text
    assert "\x1b[" not in text  # no colour codes when the output is not a terminal
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_records_below_the_configured_level_are_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_format="json", log_level="warning"))
    log = get_logger("caseline.test")

    log.debug("noise")
    log.info("more noise")
    logging.getLogger("faststream").info("library noise")
    log.warning("kept")

    assert [line["message"] for line in _json_lines(capsys.readouterr().err)] == ["kept"]
