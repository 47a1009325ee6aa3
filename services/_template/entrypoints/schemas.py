"""What the template's routes accept: request bodies and ids in paths.

COPY-AND-RENAME: validation here is about input, not rules. A body of the wrong shape, an
unknown field, an id that could not travel in a URL or a Kafka key: 422 before anything is
read or written, and the kit's answer says where and why, never what was sent. Whether a
command is allowed now is the domain's to say (409).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services._template.contract import Outcome
from shared.identifiers import PathId

CODE_PATTERN = r"^[a-z][a-z0-9_-]*$"
"""Codes are lowercase words: they go into events, which carry codes, never free text."""

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=CODE_PATTERN)]
ItemId = PathId
"""Ids in paths are the kit's (`shared.identifiers`): no personal number, URL- and key-safe."""


class Body(BaseModel):
    """Base of request bodies: frozen, and an unknown field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenItemRequest(Body):
    """POST /items."""

    kind: Code


class CloseItemRequest(Body):
    """POST /items/{item_id}/close."""

    outcome: Outcome
