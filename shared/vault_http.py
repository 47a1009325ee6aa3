"""The auditors' view of a service's vault: its access log, ids and codes only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BeforeValidator

from shared.auth import Principal, require_roles
from shared.envelope import Role
from shared.vault import ACCESS_LOG_LIMIT, AccessLogEntry, Vault

AUDIT_ROLES = (Role.AUDITOR, Role.NETWORK_ADMIN)
"""Who reads the access log: auditors, and network administrators who answer for the network."""

Auditor = Annotated[Principal, Depends(require_roles(*AUDIT_ROLES))]


def refuse_numbers(value: object) -> object:
    """A time is written as the OpenAPI says (ISO 8601): pydantic would otherwise read a bare
    number as seconds since 1970 and answer 200 to a request the document calls invalid."""
    if not isinstance(value, str):
        return value
    try:
        float(value.strip())
    except ValueError:
        return value
    raise ValueError("a time is written as ISO 8601 (2026-01-31T09:00:00Z), not a number")


Since = Annotated[datetime | None, BeforeValidator(refuse_numbers)]
"""`since` of the access log: an ISO 8601 time, never a number of seconds."""


def vault_router() -> APIRouter:
    """`GET /vault/access-log`, on every service that keeps a vault."""
    router = APIRouter(tags=["vault"])

    @router.get("/vault/access-log")
    async def access_log(
        request: Request,
        principal: Auditor,
        client_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        since: Since = None,
        limit: Annotated[int, Query(ge=1, le=ACCESS_LOG_LIMIT)] = ACCESS_LOG_LIMIT,
    ) -> list[AccessLogEntry]:
        """Every read of the vault, allowed or refused, oldest first (of one client, since)."""
        runtime = request.app.state.runtime
        if getattr(runtime, "vault", None) is None:
            raise HTTPException(status_code=404, detail="this service keeps no vault")
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # a time without a zone is read as UTC
        async with runtime.pool.acquire(timeout=5.0) as conn:
            return await Vault.access_log(conn, client_id=client_id, since=since, limit=limit)

    return router
