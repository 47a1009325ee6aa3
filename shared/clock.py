"""The agencies' calendar: every date a rule compares with "today" is a date in this zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

AGENCY_TIME_ZONE = ZoneInfo("Asia/Seoul")
"""Consent periods, joining, departure and closure dates are the agencies' calendar dates."""


def agency_today() -> date:
    """Today's date where the agencies are."""
    return datetime.now(AGENCY_TIME_ZONE).date()
