"""What the template can be asked to do: one frozen command class per request, imperative.

COPY-AND-RENAME: a command carries what the rules decide on. The stream it acts on (the
item id) is not a field: the handler runs it on that stream. A rule that compares with
"today" gets `today` as a field, read by the route from `shared.clock.agency_today`, so the
domain never reads a clock.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services._template.domain.events import Outcome


class TemplateCommand(BaseModel):
    """Base of every template command: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenItem(TemplateCommand):
    """Open an item of a kind."""

    kind: str


class CloseItem(TemplateCommand):
    """Close an open item with its outcome."""

    outcome: Outcome


ItemCommand = OpenItem | CloseItem
"""Every command on an item's stream (`model.decide`)."""
