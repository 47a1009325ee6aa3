"""The template's rules: an item's state, `decide` and `evolve`. Pure: no I/O, no clock.

COPY-AND-RENAME: keep the shape. `evolve(state, event)` folds one recorded event and never
refuses (what was recorded happened). `decide(state, command)` returns the events a command
leads to or raises a `TemplateError`; it dispatches to one small function per command, so a
reader checks each against docs/domain.md on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from services._template.domain.commands import CloseItem, ItemCommand, OpenItem
from services._template.domain.errors import R1, OutOfOrder
from services._template.domain.events import ItemClosed, ItemOpened, Outcome
from shared.envelope import DomainEvent

Stage = Literal["new", "open", "closed"]


@dataclass(frozen=True)
class Item:
    """One item as its stream tells it; `Item()` is the state before its first event."""

    agency_id: str | None = None
    """The agency the item belongs to: from the first event's metadata (`application`)."""
    stage: Stage = "new"
    kind: str | None = None
    outcome: Outcome | None = None


def decide(state: Item, command: ItemCommand) -> list[DomainEvent]:
    """The events `command` leads to in `state`, or a `TemplateError` saying why not."""
    match command:
        case OpenItem():
            return _open(state, command)
        case CloseItem():
            return _close(state, command)
    raise TypeError(f"not a template command: {command!r}")  # pragma: no cover


def _open(state: Item, command: OpenItem) -> list[DomainEvent]:
    if state.stage != "new":
        raise OutOfOrder(f"the item is already {state.stage}: it is opened once", rule=R1)
    return [ItemOpened(kind=command.kind)]


def _close(state: Item, command: CloseItem) -> list[DomainEvent]:
    if state.stage == "new":
        raise OutOfOrder("the item is not open yet: open it first", rule=R1)
    if state.stage == "closed":
        raise OutOfOrder(f"the item was already closed ({state.outcome})", rule=R1)
    return [ItemClosed(outcome=command.outcome)]


def evolve(state: Item, event: DomainEvent) -> Item:
    """The state after one recorded event; events of other kinds leave it unchanged."""
    match event:
        case ItemOpened():
            return replace(state, stage="open", kind=event.kind)
        case ItemClosed():
            return replace(state, stage="closed", outcome=event.outcome)
    return state
