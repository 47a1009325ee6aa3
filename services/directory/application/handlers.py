"""Command handlers: each loads one agency's stream, decides, and appends at the version read.

A directory stream is one agency: its id is the stream id, the envelope's `case_id` and the
Kafka key, and the metadata's `agency_id` names that same agency (the agency the event is
about), whoever the acting administrator is.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.directory.domain.model import Agency, AgencyCommand, RegisterAgency, decide, evolve
from shared.application import CommandContext, CommandResult, run_command
from shared.store import EventStore

AGENCY_TIME_ZONE = ZoneInfo("Asia/Seoul")
"""Registration, joining, departure and closure dates are the agencies' calendar dates."""


def agency_today() -> date:
    """Today's date where the agencies are (the rules bound dates by it)."""
    return datetime.now(AGENCY_TIME_ZONE).date()


async def handle(
    store: EventStore, context: CommandContext, command: AgencyCommand
) -> CommandResult[Agency]:
    """Run one command on the stream of `context.agency_id`.

    Raises a `DirectoryError` when the rules refuse it and `ConcurrencyError` when another
    writer appended first; in both cases nothing is written.
    """
    if isinstance(command, RegisterAgency) and command.agency_id != context.agency_id:
        raise ValueError(
            f"registering agency {command.agency_id} on the stream of {context.agency_id}"
        )
    return await run_command(
        store,
        context.agency_id,
        initial=Agency(),
        evolve=evolve,
        decide=lambda state: decide(state, command),
        context=context,
    )
