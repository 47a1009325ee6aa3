"""The template's application layer: its ports, and one handler per command.

COPY-AND-RENAME: handlers orchestrate I/O only (load, check who may act, decide, append);
every rule is in `domain/`. They take the ports (`Template`) as a parameter, built once by
`bootstrap.compose` when the service starts, so a handler never builds a command path or
opens a connection of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services._template.adapters.read_model import TemplateReadModel
from services._template.domain.commands import CloseItem, OpenItem
from services._template.domain.model import Item, decide, evolve
from shared.application import CommandContext, CommandPath, CommandResult, NotFound, StreamModel
from shared.envelope import RecordedEvent
from shared.store import EventStore


def _item_from(history: Sequence[RecordedEvent[Any]]) -> Item:
    # The item's agency is in its first event's metadata, not in a payload: `start` seeds
    # the state with it before `evolve` folds the payloads.
    return Item(agency_id=history[0].metadata.agency_id) if history else Item()


ITEMS = StreamModel(Item(), evolve, start=_item_from)
"""How an item's stream folds into the state `decide` is given."""


@dataclass(frozen=True)
class Template:
    """The template's ports: the command path of its streams and the read model."""

    items: CommandPath[Item]
    read_model: TemplateReadModel

    @classmethod
    def over(cls, store: EventStore) -> Template:
        """The ports over one event store and its pool (the read model shares the pool)."""
        return cls(items=CommandPath(store, ITEMS), read_model=TemplateReadModel(store.pool))


async def open_item(
    ports: Template, context: CommandContext, command: OpenItem
) -> CommandResult[Item]:
    """Open a new item for `context.agency_id`; the service chooses its id.

    Choosing the id here (never the caller) means no request can probe whether another
    agency holds an id. `expected_version=0`: the stream must be new.
    """
    item_id = f"item-{uuid.uuid4().hex}"
    return await ports.items.run(
        item_id, context, lambda state, _: decide(state, command), expected_version=0
    )


async def close_item(
    ports: Template, context: CommandContext, item_id: str, command: CloseItem
) -> CommandResult[Item]:
    """Close an item of `context.agency_id`.

    Loaded first so the handler can check whose it is: another agency's item answers
    exactly like one that does not exist (404, R11). Then decided and appended at the
    version read: a concurrent writer gets a 409 and this command writes nothing.
    """
    loaded = await ports.items.load(item_id)
    if not loaded.exists or loaded.state.agency_id != context.agency_id:
        raise NotFound(f"no item {item_id}")
    return await ports.items.run(loaded, context, lambda state, _: decide(state, command))
