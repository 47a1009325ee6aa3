"""The template's public contract: the events it publishes on `caseline.template.v1`.

COPY-AND-RENAME: another service reads yours only through this module: it imports the
event classes it needs from here (never from `domain/`) and declares them in its
`ConsumerSpec(reads=...)`. Keep `PUBLISHED` complete; add a mapping function here when
every reader would otherwise write the same one (the directory's `record_principals`).
"""

from services._template.domain.events import ItemClosed, ItemOpened, Outcome, TemplateEvent

PUBLISHED: tuple[type[TemplateEvent], ...] = (ItemOpened, ItemClosed)
"""Every event type the template publishes."""

__all__ = ["PUBLISHED", "ItemClosed", "ItemOpened", "Outcome", "TemplateEvent"]
