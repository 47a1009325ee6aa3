"""Schemathesis over every route of every service, authenticated, on the real stack.

Intake and the directory run in-process together (`running_network`: their own schemas and
topics, the real broker and database), with an agency, its staff, a service and cases made
first, so that generated requests reach real records as well as unknown ones. Careplan,
monitoring and closure run each alone (`fuzz_targets`), as the service contract runs a
service: their principals recorded, and one case each learned from real upstream events.
For every operation of each app's own OpenAPI, schemathesis generates valid and invalid
requests; each is sent with a token whose role fits the route, and about half of the valid
ones have a resident number or a phone number put into one of their text values (ids, names,
reasons, query values). Every answer must be:

- no 5xx (`not_a_server_error`);
- free of every resident number (`\\d{6}-?\\d{7}`) and phone number (`01\\d-?\\d{3,4}-?\\d{4}`)
  the request carried, in any spelling of its digits;
- what the OpenAPI says where it says something: `response_schema_conformance` and
  `content_type_conformance` for the documented statuses (2xx and 422), and
  `negative_data_rejection` (invalid input is refused with a 4xx).
  `status_code_conformance` is left out: the generated OpenAPI documents neither 401/403
  nor the 404 and 409 the kit maps, so every refusal would fail it.

Bounded for `make test`: `MAX_EXAMPLES` per operation, derandomized (the same requests on
every run), no shrinking and no example database, so a run is repeatable: about 40 s for
intake and the directory on two cores, the apps' start included, and as long again for the
three services fuzzed alone.

What the fuzzing found in the kit's 422 stays as two focused tests at the end.

Schemathesis' checks and Hypothesis are synchronous while the apps live on the test's event
loop: the examples run in a worker thread whose requests go through a `requests` adapter
that hands each one to the app's httpx client on the loop.
"""

from __future__ import annotations

import asyncio
import copy
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core import NOT_SET
from urllib3 import HTTPHeaderDict, HTTPResponse

from services.careplan.bootstrap import build as build_careplan
from services.closure.bootstrap import build as build_closure
from services.directory.bootstrap import build as build_directory
from services.intake.bootstrap import build as build_intake
from services.monitoring.bootstrap import build as build_monitoring
from services.projections.bootstrap import build as build_projections
from shared.envelope import Role
from shared.settings import load_settings
from tests.harness import token_for
from tests.integration.fuzz_targets import AloneServices, Seed, Target
from tests.integration.intake.conftest import (
    CONSENT_UNTIL,
    Agency,
    Network,
    make_agency,
    person,
    running_network,
    through_intake,
)

pytestmark = pytest.mark.infra

MAX_EXAMPLES = 40
SEND_TIMEOUT_SECONDS = 30.0

RESIDENT_NUMBER = r"\d{6}-?\d{7}"
PHONE_NUMBER = r"01\d-?\d{3,4}-?\d{4}"
SENT_NUMBER = re.compile(rf"(?<![^\W_])(?:{RESIDENT_NUMBER}|{PHONE_NUMBER})(?![^\W_])")
"""A personal number in a request: standing on its own, not run together with letters or
more digits (`case-3f0101234567890a...`, the hex of a uuid in an id a service issued)."""

CONFIG = schemathesis.Config.from_dict(
    {"generation": {"allow-extra-parameters": False, "with-security-parameters": False}}
)
"""Query parameters and headers the API does not declare are not generated (FastAPI ignores
them, as an HTTP API that wants old clients to keep working must), nor the bearer token:
every request carries a real one, of a role that fits the route."""

CHECKS_RUN = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "negative_data_rejection",
)

HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

# --- which operations there are, and who may call them ---------------------------------------

CASE_WORKERS = (Role.CASE_MANAGER, Role.SUPERVISOR)
ANYONE = (Role.CASE_MANAGER, Role.SUPERVISOR, Role.AUDITOR)
ADMIN = (Role.NETWORK_ADMIN,)
STAFF = (Role.CASE_MANAGER, Role.SUPERVISOR, Role.AGENCY_ADMIN)
READERS = (*STAFF, Role.AUDITOR, Role.NETWORK_ADMIN)
AUDIT = (Role.AUDITOR, Role.NETWORK_ADMIN)

ROLES: dict[str, dict[str, tuple[Role, ...]]] = {
    "intake": {
        "POST /cases": CASE_WORKERS,
        "GET /cases/{case_id}": CASE_WORKERS,
        "POST /cases/{case_id}/registration": CASE_WORKERS,
        "POST /cases/{case_id}/returning-client": CASE_WORKERS,
        "POST /cases/{case_id}/consents": CASE_WORKERS,
        "POST /cases/{case_id}/consents/{consent_id}/withdrawal": CASE_WORKERS,
        "GET /cases/{case_id}/consent-check": CASE_WORKERS,
        "POST /cases/{case_id}/screening": CASE_WORKERS,
        "POST /cases/{case_id}/assessment": CASE_WORKERS,
        "POST /cases/{case_id}/assignment": CASE_WORKERS,
        "POST /cases/{case_id}/reassignment": CASE_WORKERS,
        "GET /agencies/{agency_id}/caseloads": CASE_WORKERS,
        "GET /clients/{client_id}": CASE_WORKERS,
        "POST /clients/{client_id}/erasure": (Role.SUPERVISOR,),
        "GET /network/possible-duplicates": ADMIN,
        "GET /vault/access-log": (Role.AUDITOR, Role.NETWORK_ADMIN),
        "GET /health": ANYONE,
        "GET /health/live": ANYONE,
        "GET /metrics": ANYONE,
    },
    "directory": {
        "POST /agencies": ADMIN,
        "GET /agencies": ANYONE,
        "POST /agencies/{agency_id}/departments": ADMIN,
        "POST /agencies/{agency_id}/services": ADMIN,
        "POST /agencies/{agency_id}/services/{service_id}/withdraw": ADMIN,
        "PUT /agencies/{agency_id}/services/{service_id}/capacity": ADMIN,
        "POST /agencies/{agency_id}/close": ADMIN,
        "POST /agencies/{agency_id}/staff": ADMIN,
        "PUT /agencies/{agency_id}/staff/{staff_id}/caseload-limit": ADMIN,
        "POST /agencies/{agency_id}/staff/{staff_id}/depart": ADMIN,
        "POST /network/members": ADMIN,
        "POST /network/members/{staff_id}/leave": ADMIN,
        "GET /agencies/{agency_id}": ANYONE,
        "GET /services": ANYONE,
        "GET /staff": ANYONE,
        "GET /health": ANYONE,
        "GET /health/live": ANYONE,
        "GET /metrics": ANYONE,
    },
    "careplan": {
        "POST /cases/{case_id}/crisis-interventions": CASE_WORKERS,
        "POST /cases/{case_id}/plan-versions": CASE_WORKERS,
        "POST /cases/{case_id}/plan-versions/{version}/agreement": CASE_WORKERS,
        "POST /cases/{case_id}/direct-services": CASE_WORKERS,
        "POST /cases/{case_id}/items/{item_id}/links": CASE_WORKERS,
        "POST /links/{link_id}/answer": STAFF,
        "POST /cases/{case_id}/advocacies": CASE_WORKERS,
        "POST /cases/{case_id}/advocacies/{advocacy_id}/steps": CASE_WORKERS,
        "POST /cases/{case_id}/advocacies/{advocacy_id}/conclusion": CASE_WORKERS,
        "GET /cases/{case_id}": READERS,
        "GET /cases/{case_id}/plan-versions/{version}/words": CASE_WORKERS,
        "GET /agencies/{agency_id}/board": READERS,
        "GET /agencies/{agency_id}/inbox": STAFF,
        "GET /vault/access-log": AUDIT,
        "GET /health": ANYONE,
        "GET /health/live": ANYONE,
        "GET /metrics": ANYONE,
    },
    "monitoring": {
        "POST /cases/{case_id}/reviews": CASE_WORKERS,
        "POST /cases/{case_id}/visits": CASE_WORKERS,
        "POST /cases/{case_id}/forms": CASE_WORKERS,
        "POST /cases/{case_id}/forms/{form_id}/return": CASE_WORKERS,
        "POST /cases/{case_id}/forms/{form_id}/follow-up": CASE_WORKERS,
        "POST /cases/{case_id}/baselines": CASE_WORKERS,
        "POST /cases/{case_id}/evaluations": CASE_WORKERS,
        "GET /cases/{case_id}": READERS,
        "GET /board": READERS,
        "GET /instruments": READERS,
        "GET /vault/access-log": AUDIT,
        "GET /health": ANYONE,
        "GET /health/live": ANYONE,
        "GET /metrics": ANYONE,
    },
    "closure": {
        "POST /cases/{case_id}/preparation": CASE_WORKERS,
        "POST /cases/{case_id}/approval": (Role.SUPERVISOR,),
        "POST /cases/{case_id}/termination": CASE_WORKERS,
        "GET /cases/{case_id}": READERS,
        "GET /cases/{case_id}/referral-options": READERS,
        "POST /cases/{case_id}/referral/client-decline": CASE_WORKERS,
        "POST /referrals/{referral_id}/acceptance": STAFF,
        "POST /referrals/{referral_id}/decline": STAFF,
        "GET /referrals/{referral_id}/fhir": READERS,
        "GET /board": READERS,
        "GET /inbox": STAFF,
        "GET /health": ANYONE,
        "GET /health/live": ANYONE,
        "GET /metrics": ANYONE,
    },
    "projections": {
        "GET /cases/{case_id}/journey": READERS,
        "GET /cases/{case_id}/timeline": (Role.SUPERVISOR, Role.AUDITOR),
        "GET /agencies/{agency_id}/dashboard": READERS,
        "GET /network/figures": AUDIT,
        "GET /network/referral-flows": AUDIT,
        "GET /clients/{client_id}/journey": READERS,
        "GET /agencies/{agency_id}/addressed": READERS,
        "GET /health": ANYONE,
        "GET /health/live": ANYONE,
        "GET /metrics": ANYONE,
    },
}

ON_THE_NETWORK = ("intake", "directory")
"""Fuzzed together on the running network; the others each alone (`fuzz_targets`)."""

BUILDS = {
    "intake": build_intake,
    "directory": build_directory,
    "careplan": build_careplan,
    "monitoring": build_monitoring,
    "closure": build_closure,
    "projections": build_projections,
}

KNOWN_FAILURES: dict[tuple[str, str], str] = {}
"""(service, operation) -> why it still fails; each runs as a strict xfail until fixed."""


def _declared_operations() -> list[tuple[str, str]]:
    """Every operation of every app's OpenAPI, read from apps that are built but never started."""
    placeholder = load_settings(
        database_url="postgresql://unused@127.0.0.1:1/unused",
        kafka_bootstrap_servers="127.0.0.1:1",
    )
    found: list[tuple[str, str]] = []
    for service, build in BUILDS.items():
        app = build(placeholder)
        for path, methods in app.openapi()["paths"].items():
            found.extend((service, f"{method.upper()} {path}") for method in methods)
    return found


def _params(services: tuple[str, ...]) -> Iterator[Any]:
    for service, operation in _declared_operations():
        if service not in services:
            continue
        reason = KNOWN_FAILURES.get((service, operation))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(service, operation, marks=marks, id=f"{service}: {operation}")


def test_every_operation_has_roles_to_fuzz_it_with() -> None:
    declared = sorted(_declared_operations())
    assert declared == sorted((s, op) for s, ops in ROLES.items() for op in ops)


# --- the running network and its records --------------------------------------------------------


@dataclass(frozen=True)
class Fuzzed:
    """The running apps, the ids of real records, and requests that reach them."""

    net: Network
    agency: Agency
    """Intake's fuzzing runs as this agency's staff."""
    records: dict[str, dict[str, list[str]]]
    """service -> path parameter -> real ids of that service."""
    seeds: dict[str, dict[str, Seed]]
    """service -> operation -> a request the service takes in."""


@pytest.fixture(scope="module")
async def fuzzed(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Fuzzed]:
    async with running_network(database_url, kafka_bootstrap, pg_pool) as net:
        agency = await make_agency(net, {"cm-a": 5, "cm-b": 1})
        born = date(1961, 5, 17)
        details = person("Fuzz", born=born)
        assigned, client = await through_intake(agency, details, assign_to=agency.managers[0])
        opened: list[str] = []
        for _ in range(2):
            answer = await net.intake.post(
                "/cases", json={"source": "walk_in"}, headers=agency.manager()
            )
            assert answer.status_code == 201, answer.text
            opened.append(answer.json()["case_id"])
        case = await net.intake.get(f"/cases/{assigned}", headers=agency.manager())
        consent = case.json()["consents"][0]["consent_id"]
        # The directory's commands change its agencies (one closes): agencies of their own.
        listed = await make_agency(net, {"cm-d": 2})
        closing = await make_agency(net, {"cm-e": 2})
        offered = await net.directory.post(
            f"/agencies/{listed.agency_id}/services",
            json={
                "service_id": "svc-1",
                "name": "Housing help",
                "need_domain": "housing",
                "resource": "formal",
                "capacity": 3,
            },
            headers=net.network_admin(),
        )
        assert offered.status_code == 201, offered.text
        yield Fuzzed(
            net,
            agency,
            {
                "intake": {
                    "case_id": [*opened, assigned],
                    "client_id": [client],
                    "consent_id": [consent],
                    "agency_id": [agency.agency_id],
                },
                "directory": {
                    "agency_id": [listed.agency_id, closing.agency_id],
                    "staff_id": [*listed.managers, listed.supervisor],
                    "service_id": ["svc-1"],
                },
            },
            {
                "intake": _intake_seeds(agency, details, client),
                "directory": _directory_seeds(),
            },
        )


@pytest.fixture(scope="module")
async def alone(database_url: str, kafka_bootstrap: str) -> AsyncIterator[AloneServices]:
    """Careplan, monitoring, closure and projections, each started alone when first fuzzed."""
    async with AsyncExitStack() as exits:
        yield AloneServices(database_url, kafka_bootstrap, exits)


def _on_the_network(fuzzed: Fuzzed, service: str) -> Target:
    """Intake or the directory on the running network, as the fuzzed agency's staff."""
    net = fuzzed.net
    app, http = (
        (net.intake_app, net.intake) if service == "intake" else (net.directory_app, net.directory)
    )
    members = {
        Role.NETWORK_ADMIN: ("network", "netadmin-1"),
        Role.AUDITOR: ("network", "auditor-1"),
        Role.SUPERVISOR: (fuzzed.agency.agency_id, fuzzed.agency.supervisor),
        Role.CASE_MANAGER: (fuzzed.agency.agency_id, fuzzed.agency.managers[0]),
    }
    return Target(app, http, net.settings, members, fuzzed.records[service], fuzzed.seeds[service])


def _intake_seeds(agency: Agency, details: dict[str, Any], client: str) -> dict[str, Seed]:
    return {
        "POST /cases": Seed(
            {
                "source": "inbound_referral",
                "referring_agency_id": agency.agency_id,
                "referring_case_id": "ref-1",
            }
        ),
        "POST /cases/{case_id}/registration": Seed(
            {**person("Fuzz New"), "phone": "010-2345-6789"}
        ),
        "POST /cases/{case_id}/returning-client": Seed(
            {"client_id": client, "name": details["name"], "birth_date": details["birth_date"]}
        ),
        "POST /cases/{case_id}/consents": Seed(
            {
                "agencies": [agency.agency_id],
                "purposes": ["case_management"],
                "valid_until": CONSENT_UNTIL,
            }
        ),
        "GET /cases/{case_id}/consent-check": Seed(
            query={"agency_id": agency.agency_id, "purpose": "referral", "on": "2030-01-01"}
        ),
        "POST /cases/{case_id}/screening": Seed(
            {"outcome": "eligible", "presenting_problems": ["housing"]}
        ),
        "POST /cases/{case_id}/assessment": Seed(
            {
                "needs": [{"domain": "housing", "severity": "high"}],
                "interpreter_needed": True,
                "cultural_needs": "Halal meals; call 010-3456-7890 after six",
            }
        ),
        "POST /cases/{case_id}/assignment": Seed({"staff_id": agency.managers[1]}),
        "POST /cases/{case_id}/reassignment": Seed(
            {"to_staff_id": agency.managers[1], "reason": "caseload_balancing"}
        ),
    }


def _directory_seeds() -> dict[str, Seed]:
    return {
        "POST /agencies": Seed({"agency_id": "ag-fuzz", "name": "Fuzz centre", "region": "Seoul"}),
        "POST /agencies/{agency_id}/departments": Seed({"department_id": "dep-1", "name": "Care"}),
        "POST /agencies/{agency_id}/services": Seed(
            {
                "service_id": "svc-2",
                "name": "Food bank",
                "need_domain": "food",
                "resource": "formal",
                "capacity": 10,
            }
        ),
        "POST /agencies/{agency_id}/services/{service_id}/withdraw": Seed({"reason": "Budget"}),
        "PUT /agencies/{agency_id}/services/{service_id}/capacity": Seed(
            {"capacity": 2, "waiting_list": 1}
        ),
        "POST /agencies/{agency_id}/close": Seed({"closed_on": "2024-06-01", "reason": "Merger"}),
        "POST /agencies/{agency_id}/staff": Seed(
            {
                "staff_id": "cm-fuzz",
                "name": "Kim",
                "role": "case_manager",
                "caseload_limit": 3,
                "joined_on": "2024-01-02",
            }
        ),
        "PUT /agencies/{agency_id}/staff/{staff_id}/caseload-limit": Seed({"caseload_limit": 4}),
        "POST /agencies/{agency_id}/staff/{staff_id}/depart": Seed(
            {"departed_on": "2024-06-01", "reason": "Moved"}
        ),
        "POST /network/members": Seed(
            {"staff_id": "aud-fuzz", "name": "Lee", "role": "auditor", "enrolled_on": "2024-01-02"}
        ),
        "POST /network/members/{staff_id}/leave": Seed(
            {"left_on": "2024-06-01", "reason": "Contract ended"}
        ),
        "GET /services": Seed(query={"need_domain": "housing", "region": "Seoul"}),
        "GET /staff": Seed(query={"role": "case_manager", "with_room": "true"}),
        "GET /agencies": Seed(query={"region": "Seoul"}),
    }


# --- sending schemathesis' requests to an app on the test's loop ---------------------------------


class LoopAdapter(BaseAdapter):
    """A `requests` adapter that sends each request through an httpx client on an event loop."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._client = client
        self._loop = loop

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        assert request.method is not None and request.url is not None
        body = request.body.encode() if isinstance(request.body, str) else request.body
        pending = asyncio.run_coroutine_threadsafe(
            self._client.request(
                request.method, request.url, headers=dict(request.headers), content=body
            ),
            self._loop,
        )
        answer = pending.result(timeout=SEND_TIMEOUT_SECONDS)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        # Schemathesis reads the headers of the raw urllib3 response that requests wraps.
        response.raw = HTTPResponse(
            headers=HTTPHeaderDict(answer.headers.multi_items()),
            status=answer.status_code,
            version=11,
            preload_content=False,
        )
        response._content = answer.content
        response.encoding = answer.encoding
        response.reason = answer.reason_phrase
        response.url = request.url
        response.request = request
        response.elapsed = answer.elapsed
        return response

    def close(self) -> None:
        """Nothing to close: the httpx client belongs to the fixture."""


def loop_session(client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> requests.Session:
    session = requests.Session()
    session.mount("http://", LoopAdapter(client, loop))
    return session


# --- resident numbers and phone numbers in requests and answers ----------------------------------

resident_numbers = st.from_regex(
    r"[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9])-?[1-4][0-9]{6}", fullmatch=True
)
phone_numbers = st.from_regex(r"01[016789]-?[0-9]{3,4}-?[0-9]{4}", fullmatch=True)
personal_numbers = st.one_of(resident_numbers, phone_numbers)


def _digits(text: str) -> str:
    """`text` with every decimal digit of any script as ASCII and the dashes between them gone."""
    return "".join(
        str(unicodedata.decimal(c)) if unicodedata.decimal(c, None) is not None else c for c in text
    ).replace("-", "")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def personal_numbers_in(values: object) -> set[str]:
    """The resident numbers and phone numbers in `values`, as ASCII digits without dashes."""
    return {_digits(m.group()) for text in _strings(values) for m in SENT_NUMBER.finditer(text)}


def echoed(sent: set[str], answer: requests.Response) -> set[str]:
    """Which of the personal numbers `sent` the answer repeats, in any spelling of its digits."""
    try:
        shown: object = answer.json()
    except ValueError:
        shown = answer.text
    said = " ".join(_digits(text) for text in _strings(shown))
    return {number for number in sent if number in said}


@dataclass
class Slot:
    """One text value of a request that can be replaced."""

    read: Callable[[], str]
    write: Callable[[str], None]


def _slots(container: Any) -> Iterator[Slot]:
    keys = range(len(container)) if isinstance(container, list) else list(container)
    for key in keys:
        value = container[key]
        if isinstance(value, str):

            def write(new: str, at: Any = key) -> None:
                container[at] = new

            yield Slot(lambda at=key: container[at], write)
        elif isinstance(value, dict | list):
            yield from _slots(value)


def lace(case: schemathesis.Case, data: st.DataObject) -> None:
    """Put a resident number or phone number into one text value of a valid request, maybe.

    Never into an invalid one: the number may replace the very value that made it invalid,
    and schemathesis would then expect a refusal of a request that is fine.
    """
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    # A fixed body or query is the same object in every example: change copies only.
    case.body = copy.deepcopy(case.body)
    case.query = copy.deepcopy(case.query)
    case.path_parameters = copy.deepcopy(case.path_parameters)
    slots = [
        slot
        for container in (case.path_parameters, case.query, case.body)
        if isinstance(container, dict | list)
        for slot in _slots(container)
    ]
    if not slots or not data.draw(st.booleans(), label="laced"):
        return
    slot = slots[data.draw(st.integers(0, len(slots) - 1), label="slot")]
    number = data.draw(personal_numbers, label="personal number")
    if data.draw(st.booleans(), label="in a sentence"):
        slot.write(f"{slot.read()} {number}")
    else:
        slot.write(number)


# --- the fuzzing -------------------------------------------------------------------------------


# The apps' Kafka clients use `random` on the event loop while the worker thread draws.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize(("service", "operation"), list(_params(ON_THE_NETWORK)))
async def test_fuzzed_requests_get_no_server_error_nor_a_personal_number_back(
    fuzzed: Fuzzed, service: str, operation: str
) -> None:
    await _fuzz(_on_the_network(fuzzed, service), service, operation)


@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize(
    ("service", "operation"),
    list(_params(tuple(s for s in ROLES if s not in ON_THE_NETWORK))),
)
async def test_fuzzed_requests_to_a_service_alone_get_no_server_error_nor_a_personal_number_back(
    alone: AloneServices, service: str, operation: str
) -> None:
    await _fuzz(await alone.target(service), service, operation)


async def _fuzz(target: Target, service: str, operation: str) -> None:
    """Schemathesis' requests for one operation, sent to the target as roles that may call it."""
    app, client = target.app, target.http
    base_url = str(client.base_url).rstrip("/")
    schema = schemathesis.openapi.from_dict(app.openapi(), config=CONFIG)
    method, path = operation.split(" ", 1)
    api_operation = schema[path][method]
    records = target.records
    real_ids = [
        {name: ids[i % len(ids)] for name, ids in records.items() if "{" + name + "}" in path}
        for i in range(3)
    ]
    strategies = [
        api_operation.as_strategy(GenerationMode.POSITIVE),
        api_operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if "{" in path:
        strategies += [
            api_operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids)
            for ids in real_ids
        ]
    seed = target.seeds.get(operation)
    if seed is not None:
        strategies += [
            api_operation.as_strategy(
                GenerationMode.POSITIVE,
                path_parameters=ids or None,
                query=seed.query,
                body=NOT_SET if seed.body is None else seed.body,
            )
            for ids in (real_ids if "{" in path else [{}])
        ]
    roles = ROLES[service][operation]
    load_all_checks()
    checks = [CHECKS.get_one(name) for name in CHECKS_RUN]
    session = loop_session(client, asyncio.get_running_loop())

    # Every token is a registered member's: on the network, enrolled with it or registered in
    # the directory; a service alone, recorded in its members.
    tokens = {role: token_for(target.settings, role, *target.members[role]) for role in roles}

    @HYPOTHESIS
    @given(case=st.one_of(strategies), data=st.data())
    def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
        role = data.draw(st.sampled_from(roles), label="role")
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        lace(case, data)
        answer = case.call(base_url=base_url, session=session, headers=headers)
        sent = personal_numbers_in([case.path_parameters, case.query, case.body])
        repeated = echoed(sent, answer)
        assert not repeated, (
            f"{operation} answered {answer.status_code} repeating {sorted(repeated)} "
            f"from the request:\n{case.as_curl_command(headers=headers)}\n"
            f"{answer.text[:2000]}"
        )
        case.validate_response(
            answer,
            checks=checks,
            headers=headers,
            transport_kwargs={"session": session, "base_url": base_url},
        )

    await asyncio.to_thread(fuzz)


# --- what the fuzzer found in the kit's 422, now fixed there ----------------------------------


async def test_a_422_never_repeats_a_phone_number_sent_as_a_screening_outcome(
    fuzzed: Fuzzed,
) -> None:
    case_id = fuzzed.records["intake"]["case_id"][0]
    answer = await fuzzed.net.intake.post(
        f"/cases/{case_id}/screening",
        json={"outcome": "010-1234-5678", "presenting_problems": ["housing"]},
        headers=fuzzed.agency.manager(),
    )
    assert answer.status_code == 422, answer.text
    assert "1234-5678" not in answer.text


async def test_a_422_never_repeats_a_resident_number_sent_as_a_field_name(
    fuzzed: Fuzzed,
) -> None:
    net = fuzzed.net
    answers = [
        await net.intake.post(
            "/cases",
            json={"source": "walk_in", "900101-1234567": "x"},
            headers=fuzzed.agency.manager(),
        ),
        await net.directory.post(
            "/agencies",
            json={"agency_id": "ag-x", "name": "n", "region": "r", "900101-1234567": "x"},
            headers=net.network_admin(),
        ),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert "1234567" not in answer.text
