"""The checks both of the directory's streams make: text that says something, dates the
record can hold. An agency's rules (`model.py`) and the network's (`network.py`) share them,
so a blank name or a date in year 9999 is refused in the same words on either stream."""

from __future__ import annotations

from datetime import date, timedelta

from services.directory.domain.errors import InvalidDate, InvalidName

HORIZON = timedelta(days=366)
"""How far ahead a joining, departure or closure may be recorded: a year (a leap day included).

Hires, notices and closures are known in advance, but not by years; a date past the horizon
is a typing slip (9999-12-31) that would otherwise stand in the record for good.
"""

EARLIEST = date(1900, 1, 1)
"""No joining, departure or closure in the record is older than this (0001-01-01 is a slip)."""


def require_text(**fields: str) -> None:
    """Refuse (`InvalidName`) the first of `fields` that is blank, naming the field."""
    for name, value in fields.items():
        if not value.strip():
            raise InvalidName(f"the {name.replace('_', ' ')} must not be blank")


def require_sensible_date(what: str, day: date, today: date) -> None:
    """Refuse (`InvalidDate`) a day before `EARLIEST` or past `today` + `HORIZON`."""
    if day < EARLIEST:
        raise InvalidDate(f"{what} on {day} is before {EARLIEST}: no record goes back so far")
    if day > today + HORIZON:
        raise InvalidDate(
            f"{what} on {day} is more than a year ahead of today ({today}): record it nearer "
            "the day"
        )
