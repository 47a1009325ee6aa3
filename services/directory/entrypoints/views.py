"""What the directory's routes answer with: a command's outcome, mapped from its result.

Queries answer with the read model's own records (`adapters/read_model.py`: `AgencySummary`,
`AgencyView`, `ServiceView`, `StaffView`): the tables are shaped for those answers, and a
second copy of each class here would only drift from the first.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from services.directory.domain.model import Agency
from services.directory.domain.network import Network
from shared.application import CommandResult


class RecordedEventView(BaseModel):
    """One event a command recorded."""

    event_id: str
    event_type: str
    stream_version: int


class CommandResponse(BaseModel):
    """What a command did: the agency's stream version and the events recorded (maybe none)."""

    agency_id: str
    stream_version: int
    status: Literal["unregistered", "active", "closed"]
    events: list[RecordedEventView]


def command_response(
    agency_id: str, result: CommandResult[Agency] | CommandResult[Network]
) -> CommandResponse:
    """The answer to a command on an agency's stream or the network's (always active)."""
    return CommandResponse(
        agency_id=agency_id,
        stream_version=result.stream_version,
        status=result.state.status if isinstance(result.state, Agency) else "active",
        events=[
            RecordedEventView(
                event_id=str(e.metadata.event_id),
                event_type=e.envelope.event_type,
                stream_version=e.stream_version,
            )
            for e in result.recorded
        ],
    )
