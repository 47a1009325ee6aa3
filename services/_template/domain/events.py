"""Events the template records on its topic (`caseline.template.v1`).

COPY-AND-RENAME: one base class per service (`TemplateEvent`) whose `service` names it: the
kit builds `ce_type` (`caseline.template.ItemOpened.v1`) and `ce_source` from it, and no kit
file lists services. Events are frozen pydantic models named in the past tense, registered
in the process-wide registry by type name. They carry ids and codes only: words about a
person (names, notes, form answers) go to the service's vault, never into an event.

Changing an event later: raise its `schema_version` and register an upcaster from the old
version (see `AgencyRegistered` in services/directory/domain/events.py). Stored events are
never rewritten.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.envelope import DomainEvent, registry

Outcome = Literal["done", "dropped"]
"""How an item ended: a code, never free text."""


class TemplateEvent(DomainEvent):
    """Base of every template event."""

    service = "template"


@registry.register
class ItemOpened(TemplateEvent):
    """An item was opened for the agency of whoever opened it."""

    kind: str = Field(min_length=1, max_length=64, description="A code: what sort of item.")


@registry.register
class ItemClosed(TemplateEvent):
    """An open item was closed with an outcome."""

    outcome: Outcome
