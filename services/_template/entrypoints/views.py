"""What the template's routes answer with: a command's outcome, mapped from its result.

COPY-AND-RENAME: a command answers with the stream's new version and the events it
recorded (ids and type names), enough for a client to follow its effect through the read
model. Queries answer with the read model's own records (`adapters/read_model.py`).
"""

from __future__ import annotations

from pydantic import BaseModel

from services._template.domain.model import Item, Stage
from shared.application import CommandResult


class RecordedEventView(BaseModel):
    """One event a command recorded."""

    event_id: str
    event_type: str
    stream_version: int


class CommandResponse(BaseModel):
    """What a command did: the item, its stage and version, the events recorded."""

    item_id: str
    stage: Stage
    stream_version: int
    events: list[RecordedEventView]


def command_response(result: CommandResult[Item]) -> CommandResponse:
    """The answer to a command on an item's stream."""
    return CommandResponse(
        item_id=result.stream_id,
        stage=result.state.stage,
        stream_version=result.stream_version,
        events=[
            RecordedEventView(
                event_id=str(e.metadata.event_id),
                event_type=e.envelope.event_type,
                stream_version=e.stream_version,
            )
            for e in result.recorded
        ],
    )
