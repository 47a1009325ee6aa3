"""A training network may run its calendar ahead, so due dates pass during a short run; a live
network never does, and nobody can take a training network for a live one."""

from __future__ import annotations

import inspect
from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs
from typer.testing import CliRunner

from caseline.cli import app as cli_app
from services.closure import bootstrap as closure
from services.monitoring import bootstrap as monitoring
from shared.clock import agency_date, agency_today, calendar_offset_days, configure_calendar
from shared.errors import InsecureConfiguration
from shared.service import ServiceSpec, create_service_app, service_calendar
from shared.settings import load_settings

CALENDAR_VARIABLES = ("CASELINE_CALENDAR_OFFSET_DAYS", "CASELINE_TRAINING_NETWORK")


@pytest.fixture(autouse=True)
def real_calendar(monkeypatch: pytest.MonkeyPatch) -> object:
    """Each test starts on the real calendar, whatever the environment says, and ends on it."""
    for name in CALENDAR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
    configure_calendar(0)


def real_today() -> date:
    configure_calendar(0)
    return agency_today()


def test_an_offset_moves_today_that_many_days_ahead() -> None:
    today = real_today()

    assert configure_calendar(3) == 0
    assert agency_today() == today + timedelta(days=3)
    assert calendar_offset_days() == 3


def test_the_calendar_date_of_a_recorded_instant_is_never_moved() -> None:
    moment = datetime.fromisoformat("2026-03-01T20:30:00+00:00")
    configure_calendar(5)

    # 20:30 UTC on 1 March is 05:30 on 2 March in Seoul, where the agencies work.
    assert agency_date(moment) == date(2026, 3, 2)


def test_the_calendar_never_runs_behind() -> None:
    with pytest.raises(ValueError):
        configure_calendar(-1)
    with pytest.raises(ValidationError):
        load_settings(calendar_offset_days=-1)


def test_an_offset_is_read_from_the_environment_and_defaults_to_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().calendar_offset_days == 0
    monkeypatch.setenv("CASELINE_CALENDAR_OFFSET_DAYS", "3")
    monkeypatch.setenv("CASELINE_TRAINING_NETWORK", "1")

    settings = load_settings()

    assert settings.calendar_offset_days == 3 and settings.training_network


def test_an_offset_without_the_training_flag_is_refused_and_today_stays_real() -> None:
    today = real_today()
    settings = load_settings(development=True, calendar_offset_days=3)

    with pytest.raises(InsecureConfiguration) as refused, service_calendar("monitoring", settings):
        pass

    assert "CASELINE_TRAINING_NETWORK=1" in str(refused.value)
    assert agency_today() == today


def test_a_service_app_is_not_even_built_on_a_moved_calendar_outside_training() -> None:
    spec = ServiceSpec(name="monitoring", routers=[])

    with pytest.raises(InsecureConfiguration):
        create_service_app(spec, load_settings(development=True, calendar_offset_days=3))
    create_service_app(
        spec, load_settings(development=True, calendar_offset_days=3, training_network=True)
    )


def test_caseline_serve_refuses_an_offset_outside_training_with_exit_2() -> None:
    result = CliRunner().invoke(
        cli_app,
        ["serve", "monitoring"],
        env={"CASELINE_DEVELOPMENT": "true", "CASELINE_CALENDAR_OFFSET_DAYS": "3"},
    )

    assert result.exit_code == 2
    assert "CASELINE_CALENDAR_OFFSET_DAYS is 3" in result.stderr


def test_a_training_calendar_is_set_with_a_warning_and_put_back_when_the_service_stops() -> None:
    today = real_today()
    settings = load_settings(development=True, calendar_offset_days=3, training_network=True)

    with capture_logs() as logs, service_calendar("monitoring", settings):
        assert agency_today() == today + timedelta(days=3)

    assert agency_today() == today
    warned = [line for line in logs if line["event"] == "service.training_calendar"]
    assert warned and warned[0]["log_level"] == "warning" and warned[0]["offset_days"] == 3


def test_no_warning_on_the_real_calendar() -> None:
    with capture_logs() as logs, service_calendar("monitoring", load_settings(development=True)):
        pass

    assert not [line for line in logs if line["event"] == "service.training_calendar"]


@pytest.mark.parametrize(
    "made",
    [monitoring.service_spec, monitoring.build, closure.service_spec, closure.build],
    ids=["monitoring spec", "monitoring build", "closure spec", "closure build"],
)
def test_the_schedulers_today_is_the_kits_calendar_unless_a_test_fixes_it(made: object) -> None:
    assert callable(made)
    assert inspect.signature(made).parameters["today"].default is agency_today


def test_caseline_verify_refuses_an_offset_outside_training_with_exit_2() -> None:
    result = CliRunner().invoke(cli_app, ["verify"], env={"CASELINE_CALENDAR_OFFSET_DAYS": "3"})

    assert result.exit_code == 2
    assert "caseline verify refuses to start" in result.stderr
