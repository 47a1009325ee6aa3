"""The access log's `since` is read as its OpenAPI says: an ISO 8601 time, never a number
(the fuzzer found `?since=8909043804215` answered 200 as seconds since 1970)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.vault_http import Since

SINCE = TypeAdapter(Since)


@pytest.mark.parametrize("number", ["8909043804215", "1.5", "-3", "1e10", " 42 "])
def test_a_number_is_refused_as_the_access_logs_since(number: str) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        SINCE.validate_python(number)


def test_an_iso_8601_time_is_read_as_the_access_logs_since() -> None:
    assert SINCE.validate_python("2026-01-31T09:00:00Z") == datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert SINCE.validate_python(None) is None
