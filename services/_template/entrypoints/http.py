"""The template's HTTP API: case managers open items, supervisors close them, staff read them.

COPY-AND-RENAME: routes only translate. A body (`schemas.py`) becomes a command, the
principal an actor and agency, a result a response (`views.py`). Who may call a route is
said once, in the type of its `principal` parameter (`require_roles`: 401 without a valid
token of a registered member, 403 with the wrong role); what is allowed is the domain's to
say. No business rule here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from services._template.adapters.read_model import ItemView
from services._template.application.handlers import Template, close_item, open_item
from services._template.domain.commands import CloseItem, OpenItem
from services._template.entrypoints.schemas import CloseItemRequest, ItemId, OpenItemRequest
from services._template.entrypoints.views import CommandResponse, command_response
from shared.application import CommandContext, NotFound
from shared.auth import Authenticated, Principal, require_roles
from shared.envelope import Role
from shared.service import ports_dependency

TemplateDep = Annotated[Template, Depends(ports_dependency(Template))]
"""The ports `bootstrap.compose` built when the service started."""

CaseWorker = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR))]
"""A case manager or supervisor of a registered agency."""
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]
"""A supervisor of a registered agency."""

router = APIRouter(tags=["template"])


def _context(principal: Principal) -> CommandContext:
    # The stream belongs to the principal's agency: it becomes the events' `ce_source`.
    return CommandContext(agency_id=principal.agency_id, actor=principal.actor())


@router.post("/items", status_code=status.HTTP_201_CREATED)
async def open_new_item(
    body: OpenItemRequest, principal: CaseWorker, ports: TemplateDep
) -> CommandResponse:
    """Open an item of a kind for the caller's agency; the answer names its id."""
    result = await open_item(ports, _context(principal), OpenItem(kind=body.kind))
    return command_response(result)


@router.post("/items/{item_id}/close")
async def close_an_item(
    item_id: ItemId, body: CloseItemRequest, principal: Supervisor, ports: TemplateDep
) -> CommandResponse:
    """Close an open item of the caller's agency with its outcome."""
    result = await close_item(ports, _context(principal), item_id, CloseItem(outcome=body.outcome))
    return command_response(result)


@router.get("/items/{item_id}")
async def get_item(item_id: ItemId, principal: Authenticated, ports: TemplateDep) -> ItemView:
    """An item of the caller's agency as the read model has it (eventually consistent)."""
    item = await ports.read_model.item(item_id, principal.agency_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    return item
