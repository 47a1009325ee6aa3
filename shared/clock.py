"""The agencies' calendar: every date a rule compares with "today" is a date in this zone.

A training or demonstration network may run its calendar some days ahead
(`CASELINE_CALENDAR_OFFSET_DAYS`, only with `CASELINE_TRAINING_NETWORK`), so that a form or a
referral sent during a run of a few minutes can honestly fall due: every service's routes and
schedulers ask `agency_today()`, and the runtime sets the offset once at start-up. Only
"today" moves: instants (events' `occurred_at`, tokens' expiry) stay real, and the calendar
date of a recorded instant (`agency_date`) is the real one, so a fact derived from an event
never depends on how the process that read it was configured.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

AGENCY_TIME_ZONE = ZoneInfo("Asia/Seoul")
"""Consent periods, joining, departure and closure dates are the agencies' calendar dates."""

_offset = timedelta(0)
"""How far this process's "today" runs ahead of the real calendar (0 outside training)."""


def agency_today() -> date:
    """Today's date where the agencies are (moved ahead on a training network)."""
    return (datetime.now(AGENCY_TIME_ZONE) + _offset).date()


def agency_date(moment: datetime) -> date:
    """The agencies' calendar date of a recorded instant (never moved by the offset)."""
    return moment.astimezone(AGENCY_TIME_ZONE).date()


def configure_calendar(offset_days: int) -> int:
    """Move this process's "today" `offset_days` ahead; returns the offset it replaces.

    Called once by the runtime at start-up from checked settings (a process is one service;
    tests that run services in one process put the previous offset back when one stops)."""
    global _offset
    if offset_days < 0:
        raise ValueError("the calendar never runs behind the real one")
    previous = _offset.days
    _offset = timedelta(days=offset_days)
    return previous


def calendar_offset_days() -> int:
    """How many days this process's "today" runs ahead of the real calendar."""
    return _offset.days
