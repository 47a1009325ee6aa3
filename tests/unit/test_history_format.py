"""How `caseline history` reads its options and shows a payload (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import typer

from caseline.history import key_codes, parse_as_of, parse_schemas


def test_each_service_reads_its_own_schema_unless_an_option_points_it_elsewhere() -> None:
    services = ("careplan", "intake")
    assert parse_schemas([], services) == {"careplan": "careplan", "intake": "intake"}
    assert parse_schemas(["intake=t_copy"], services) == {
        "careplan": "careplan",
        "intake": "t_copy",
    }


@pytest.mark.parametrize("option", ["intake", "nowhere=t_x", "intake=Robert'); DROP"])
def test_a_schema_option_that_is_not_a_known_service_and_a_valid_schema_is_refused(
    option: str,
) -> None:
    with pytest.raises(typer.BadParameter):
        parse_schemas([option], ("intake",))


def test_an_as_of_time_without_an_offset_is_utc_and_one_with_an_offset_keeps_it() -> None:
    assert parse_as_of("2026-03-01T09:30:00") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    seoul = parse_as_of("2026-03-01T18:30:00+09:00")
    assert seoul == datetime(2026, 3, 1, 18, 30, tzinfo=timezone(timedelta(hours=9)))
    assert seoul == parse_as_of("2026-03-01T09:30:00Z")
    assert parse_as_of(None) is None
    with pytest.raises(typer.BadParameter):
        parse_as_of("last tuesday")


def test_key_codes_show_scalars_count_lists_and_stay_short() -> None:
    shown = key_codes(
        {"source": "walk_in", "needs": ["housing", "income"], "crisis": False, "gone": None}
    )
    assert shown == "source=walk_in needs=[2] crisis=False"
    long = key_codes({f"field{n}": "x" * 60 for n in range(5)})
    assert len(long) <= 120 and long.endswith("…")
