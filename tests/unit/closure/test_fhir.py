"""Every referral exports as FHIR R4 (`ServiceRequest` + `Task`), validated by the
`fhir.resources` package (its R4B models: R4's ServiceRequest and Task unchanged), with the
statuses the loop reached (R9)."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from services.closure.domain.commands import (
    AcceptReferral,
    ClientDeclinesReferral,
    Command,
    DeclineReferral,
    LearnLinkedCase,
)
from services.closure.domain.events import (
    ClosureEvent,
    DeclineReason,
    ReferralCompleted,
    TerminationReason,
)
from services.closure.domain.model import CaseState
from services.closure.entrypoints.fhir import bundle
from shared.vocabulary import NeedDomain
from tests.unit.closure.helpers import (
    AGENCY,
    TODAY,
    consent,
    facts,
    open_case,
    run,
    service,
    terminate,
)

NETWORK = facts(
    service("agency-b", NeedDomain.HOUSING),
    service("agency-c", NeedDomain.HOUSING),
    consents=[consent("agency-b", "agency-c")],
)


def _history(*commands: Command) -> tuple[CaseState, list[ClosureEvent]]:
    state, events = run(open_case(), terminate(TerminationReason.MANAGER_LEFT, NETWORK))
    history = list(events)
    for command in commands:
        state, more = run(state, command)
        history += more
    return state, history


def _validated(state: CaseState, history: list[ClosureEvent]) -> list[dict[str, Any]]:
    exported = bundle("case-1", state, history)
    Bundle.model_validate(exported)
    resources = [e["resource"] for e in exported["entry"]]
    ServiceRequest.model_validate(resources[0])
    for task in resources[1:]:
        Task.model_validate(task)
    return resources


def _decline(agency: str) -> DeclineReferral:
    return DeclineReferral(
        referral_id="ref-1", agency_id=agency, reason=DeclineReason.NO_CAPACITY, facts=NETWORK
    )


def _accept(agency: str) -> AcceptReferral:
    return AcceptReferral(referral_id="ref-1", agency_id=agency, staff_id="s", today=TODAY)


@pytest.mark.parametrize(
    ("commands", "request_status", "task_statuses"),
    [
        ((), "active", ["requested"]),
        ((_decline("agency-b"),), "active", ["rejected", "requested"]),
        ((_decline("agency-b"), _accept("agency-c")), "active", ["rejected", "accepted"]),
        (
            (_accept("agency-b"), LearnLinkedCase(agency_id="agency-b", linked_case_id="case-9")),
            "completed",
            ["completed"],
        ),
        ((ClientDeclinesReferral(today=TODAY),), "revoked", ["cancelled"]),
    ],
)
def test_a_referral_exports_as_a_valid_service_request_with_one_task_per_target_r9(
    commands: tuple[Command, ...], request_status: str, task_statuses: list[str]
) -> None:
    resources = _validated(*_history(*commands))
    assert resources[0]["status"] == request_status
    assert [t["status"] for t in resources[1:]] == task_statuses
    assert resources[0]["requester"] == {"reference": f"Organization/{AGENCY}"}


def test_a_pending_referral_exports_as_a_draft_without_a_task_r9() -> None:
    state, events = run(
        open_case(),
        terminate(TerminationReason.MANAGER_LEFT, facts(service("agency-b", NeedDomain.HOUSING))),
    )
    resources = _validated(state, list(events))
    assert [r["resourceType"] for r in resources] == ["ServiceRequest"]
    assert resources[0]["status"] == "draft"


def test_the_linked_case_completes_only_an_accepted_referral_at_its_target_once_r9() -> None:
    state, _ = _history(_accept("agency-b"))
    elsewhere = LearnLinkedCase(agency_id="agency-z", linked_case_id="case-9")
    assert run(state, elsewhere)[1] == []
    linked = LearnLinkedCase(agency_id="agency-b", linked_case_id="case-9")
    state, events = run(state, linked)
    assert [type(e) for e in events] == [ReferralCompleted]
    assert run(state, linked)[1] == []
