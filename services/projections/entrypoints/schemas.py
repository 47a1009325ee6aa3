"""Projections takes no bodies: only ids in paths, the kit's (no personal number, key-safe)."""

from shared.identifiers import PathId

CaseId = PathId
AgencyId = PathId
ClientId = PathId

__all__ = ["AgencyId", "CaseId", "ClientId"]
