"""Projections' public contract: it publishes nothing.

Projections only reads every other service's topic; no service may depend on what it
builds, so its contract lists no events. `PUBLISHED` stays, empty, so the kit and the
AsyncAPI writer treat it like any other service.
"""

from shared.envelope import DomainEvent

PUBLISHED: tuple[type[DomainEvent], ...] = ()
"""Projections publishes no event."""

__all__ = ["PUBLISHED"]
