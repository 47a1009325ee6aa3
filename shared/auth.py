"""Signed bearer tokens for staff, and the FastAPI dependencies that check them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.envelope import Actor, Role
from shared.errors import AuthError, Forbidden
from shared.principals import standing
from shared.settings import MAX_TOKEN_TTL_SECONDS, Settings

ISSUER = "caseline"
ALGORITHM = "HS256"
AGENCY_CLAIM = "agency"
ROLE_CLAIM = "role"
# Services on different hosts disagree a little about the time; a few seconds of slack
# keeps a freshly issued token from being refused as "not yet valid" on a slow clock.
CLOCK_SKEW = timedelta(seconds=30)
STANDING_CHECK_SECONDS = 5.0
"""How long a request waits for a connection and the membership lookup before it answers 503."""
_REGISTERED_CLAIMS = ("iss", "sub", "iat", "exp")
_CASELINE_CLAIMS = (AGENCY_CLAIM, ROLE_CLAIM)


class Principal(BaseModel):
    """The staff member a verified token speaks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency_id: str = Field(min_length=1)
    staff_id: str = Field(min_length=1)
    role: Role

    def actor(self) -> Actor:
        """The actor recorded in the metadata of events this principal causes."""
        return Actor(staff_id=self.staff_id, role=self.role)

    def may_act_for(self, agency_id: str) -> bool:
        """Whether this principal may act on behalf of `agency_id`."""
        return self.role is Role.NETWORK_ADMIN or self.agency_id == agency_id


def issue_token(
    settings: Settings,
    *,
    agency_id: str,
    staff_id: str,
    role: Role,
    ttl_seconds: int | None = None,
    issued_at: datetime | None = None,
) -> str:
    """Sign a bearer token for one staff member of one agency."""
    if not agency_id or not staff_id:
        raise ValueError("a token needs a non-empty agency id and staff id")
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    if ttl <= 0:
        raise ValueError(f"token lifetime must be positive, got {ttl} seconds")
    if ttl > MAX_TOKEN_TTL_SECONDS:
        raise ValueError(f"token lifetime is capped at {MAX_TOKEN_TTL_SECONDS} seconds, not {ttl}")
    start = issued_at or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": staff_id,
        AGENCY_CLAIM: agency_id,
        ROLE_CLAIM: Role(role).value,
        "iat": start,
        "exp": start + timedelta(seconds=ttl),
    }
    return jwt.encode(claims, settings.token_secret.get_secret_value(), algorithm=ALGORITHM)


def verify_token(settings: Settings, token: str) -> Principal:
    """Check a token's signature, issuer and lifetime; return whom it speaks for."""
    claims = _decode(settings, token)
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int | float) or lifetime > MAX_TOKEN_TTL_SECONDS:
        # Signed by us but minted to live longer than any token may: refuse it anyway.
        raise AuthError(f"token lifetime exceeds the {MAX_TOKEN_TTL_SECONDS} s cap")
    for name in _CASELINE_CLAIMS:
        if name not in claims:
            raise AuthError(f"token is missing the {name!r} claim")
    role = claims[ROLE_CLAIM]
    if role not in {member.value for member in Role}:
        raise AuthError(f"token carries an unknown role {role!r}")
    try:
        return Principal(agency_id=claims[AGENCY_CLAIM], staff_id=claims["sub"], role=role)
    except ValidationError as e:
        raise AuthError("token claims are malformed (empty or not text)") from e


def _decode(settings: Settings, token: str) -> dict[str, Any]:
    """Decode and check the registered claims, translating PyJWT's errors into AuthError."""
    try:
        return jwt.decode(
            token,
            settings.token_secret.get_secret_value(),
            # Pinning the algorithm refuses "alg: none" and key-confusion tricks.
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=CLOCK_SKEW,
            options={"require": list(_REGISTERED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as e:
        raise AuthError("token has expired") from e
    except jwt.InvalidSignatureError as e:
        raise AuthError("token signature does not verify") from e
    except jwt.MissingRequiredClaimError as e:
        raise AuthError(f"token is missing the {e.claim!r} claim") from e
    except jwt.InvalidIssuerError as e:
        raise AuthError(f"token was not issued by {ISSUER!r}") from e
    except jwt.ImmatureSignatureError as e:
        raise AuthError("token is not valid yet (issued in the future)") from e
    except jwt.InvalidAlgorithmError as e:
        raise AuthError(f"token is not signed with {ALGORITHM}") from e
    except jwt.DecodeError as e:
        raise AuthError("token is malformed") from e
    except jwt.InvalidTokenError as e:
        raise AuthError(f"token is invalid: {e}") from e


# auto_error=False: a missing header must become our AuthError (with its JSON reason and
# WWW-Authenticate), not FastAPI's own 403, so that every refusal looks the same.
_bearer_scheme = HTTPBearer(auto_error=False, description="A token from `caseline token`.")


def settings_from(request: Request) -> Settings:
    """The settings the service's bootstrap put on `app.state.settings`."""
    settings = getattr(request.app.state, "settings", None)
    if not isinstance(settings, Settings):
        raise RuntimeError("app.state.settings is not set: the service bootstrap must set it")
    return settings


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Principal:
    """FastAPI dependency: the principal of the request's bearer token, or 401.

    In a running service the principal must also have standing in the members the service
    learned from the directory (`shared.principals`): a departed, unknown or re-roled member,
    or staff of a closed or unregistered agency, is refused (401) however valid the token.
    """
    if credentials is None:
        raise AuthError("missing bearer token (send 'Authorization: Bearer <token>')")
    principal = verify_token(settings_from(request), credentials.credentials)
    pool = getattr(getattr(request.app.state, "runtime", None), "pool", None)
    if isinstance(pool, asyncpg.Pool):
        # Bounded like every wait for a connection: past it, TimeoutError answers 503.
        async with asyncio.timeout(STANDING_CHECK_SECONDS):
            reason = await standing(pool, principal.agency_id, principal.staff_id, principal.role)
        if reason is not None:
            raise AuthError(reason)
    return principal


Authenticated = Annotated[Principal, Depends(current_principal)]
"""Annotate a route parameter with this to require any authenticated principal."""


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Build a FastAPI dependency that admits only principals holding one of `roles`."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(roles)
    wanted = ", ".join(sorted(role.value for role in allowed))

    async def principal_with_role(principal: Authenticated) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"role {principal.role.value!r} may not do this; needs one of: {wanted}"
            )
        return principal

    return principal_with_role


def ensure_same_agency(principal: Principal, agency_id: str) -> None:
    """Refuse (Forbidden) a principal acting for another agency, unless a network admin."""
    if not principal.may_act_for(agency_id):
        raise Forbidden(
            f"staff {principal.staff_id!r} of agency {principal.agency_id!r} "
            f"may not act for agency {agency_id!r}"
        )


async def _auth_error_response(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=401,
        content={"detail": str(exc)},
        headers={"WWW-Authenticate": f'Bearer realm="{ISSUER}"'},
    )


async def _forbidden_response(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=403, content={"detail": str(exc)})


def install_auth_handlers(app: FastAPI) -> None:
    """Map AuthError to 401 (with WWW-Authenticate) and Forbidden to 403, once per app."""
    app.add_exception_handler(AuthError, _auth_error_response)
    app.add_exception_handler(Forbidden, _forbidden_response)
