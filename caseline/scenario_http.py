"""What the demo's scenario modules share: the running network and how it is spoken to.

The scenario drives each service over HTTP with signed tokens, as its users would; a
consumer on the other side learns in its own time, so a probe is repeated until it holds or
its deadline passes, never unboundedly. A request the story cannot do without raises
`ScenarioError`, which the demo reports as a check that did not hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import date
from typing import Any, Protocol, TypeVar

import httpx

from shared.auth import issue_token
from shared.envelope import Role
from shared.errors import CaselineError
from shared.principals import NETWORK
from shared.settings import Settings

T = TypeVar("T")


class Reporter(Protocol):
    """Where the scenario tells its story and records its checks."""

    def step(self, text: str) -> None: ...

    def check(self, held: bool, claim: str) -> None: ...


COMMAND_KEY: ContextVar[str | None] = ContextVar("caseline_command_key", default=None)
"""The `Idempotency-Key` of the command being sent (and retried) in this task, if any."""


async def _with_command_key(request: httpx.Request) -> None:
    """Give a command the key of the logical command it belongs to, so its retries after a
    lost answer are recorded once (`shared/idempotency.py`)."""
    key = COMMAND_KEY.get()
    if key is not None and request.method != "GET" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = key


class Network:
    """The running services (by name) and the tokens of the people who use them."""

    def __init__(self, settings: Settings, run: str, urls: dict[str, str]) -> None:
        self.settings = settings
        self.run = run
        self.clients = {
            name: httpx.AsyncClient(
                base_url=url, timeout=30, event_hooks={"request": [_with_command_key]}
            )
            for name, url in urls.items()
        }

    @property
    def directory(self) -> httpx.AsyncClient:
        """The directory service's HTTP client."""
        return self.clients["directory"]

    @property
    def intake(self) -> httpx.AsyncClient:
        """The intake service's HTTP client."""
        return self.clients["intake"]

    @property
    def careplan(self) -> httpx.AsyncClient:
        """The careplan service's HTTP client."""
        return self.clients["careplan"]

    @property
    def monitoring(self) -> httpx.AsyncClient:
        """The monitoring service's HTTP client."""
        return self.clients["monitoring"]

    @property
    def closure(self) -> httpx.AsyncClient:
        """The closure service's HTTP client."""
        return self.clients["closure"]

    def token(self, role: Role, agency_id: str, staff_id: str) -> dict[str, str]:
        """Authorization header for one member of staff."""
        token = issue_token(self.settings, agency_id=agency_id, staff_id=staff_id, role=role)
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin_id(self) -> str:
        """The network administrator `caseline enroll` enrolls for this run."""
        return f"netadmin-{self.run}"

    def admin(self) -> dict[str, str]:
        """The network administrator's header."""
        return self.token(Role.NETWORK_ADMIN, NETWORK, self.admin_id)

    async def close(self) -> None:
        """Close every HTTP client."""
        for client in self.clients.values():
            await client.aclose()


async def eventually(
    probe: Callable[[], Awaitable[T]], holds: Callable[[T], bool], seconds: float = 60.0
) -> tuple[bool, T]:
    """Probe until `holds` or the deadline: consumers catch up in their own time, never
    unboundedly. Whether it held, and what was seen last."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    value = await probe()
    while not holds(value) and loop.time() < deadline:
        await asyncio.sleep(0.2)
        value = await probe()
    return holds(value), value


class ScenarioError(CaselineError):
    """A service answered the scenario with something other than what it needs to go on."""


def checked(response: httpx.Response, expect: tuple[int, ...] = (200, 201)) -> Any:
    """The answer's JSON, or a `ScenarioError` naming the request: the story cannot go on."""
    if response.status_code not in expect:
        raise ScenarioError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    return response.json()


async def succeeded(answer: Awaitable[httpx.Response], expect: tuple[int, ...] = (200, 201)) -> Any:
    """Await a request that must succeed for the story to go on; its JSON."""
    return checked(await answer, expect)


async def register_agency(
    net: Network, admin: dict[str, str], agency_id: str, key: str, name: str, region: str
) -> None:
    """An agency and its casework department (`<key>-casework`), as the network's
    administrator registers them in the directory."""
    await succeeded(
        net.directory.post(
            "/agencies",
            headers=admin,
            json={"agency_id": agency_id, "name": name, "region": region},
        )
    )
    await succeeded(
        net.directory.post(
            f"/agencies/{agency_id}/departments",
            headers=admin,
            json={"department_id": f"{key}-casework", "name": "사례관리팀"},
        )
    )


async def offer_service(
    net: Network,
    admin: dict[str, str],
    agency_id: str,
    key: str,
    service_id: str,
    name: str,
    need_domain: str,
    places: int,
) -> None:
    """A formal service of the agency's casework department, with its open places."""
    await succeeded(
        net.directory.post(
            f"/agencies/{agency_id}/services",
            headers=admin,
            json={
                "service_id": service_id,
                "name": name,
                "need_domain": need_domain,
                "resource": "formal",
                "department_id": f"{key}-casework",
                "capacity": places,
            },
        )
    )


def resident_number(born: date, serial: str) -> str:
    """A resident registration number with a valid check digit for a birth date (made up)."""
    century_digit = {1900: "1", 2000: "3"}[born.year // 100 * 100]
    digits = f"{born:%y%m%d}{century_digit}{serial[:5]}"
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11) % 10
    return f"{digits[:6]}-{digits[6:]}{check}"
