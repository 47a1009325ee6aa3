"""The referral loop on the real stack (R4, R9): the target accepts (and has then served the
client), declines (the next target is issued), lets it go overdue (the scheduler moves it on,
once), or the client declines; only the target's staff answer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from services.closure.application.scheduler import ClosureScheduler
from services.intake.contract import CaseFound, CaseSource, ConsentPurpose, ConsentRecorded
from shared.vocabulary import NeedDomain
from tests.integration.closure.conftest import (
    TODAY,
    Agency,
    Running,
    agency,
    answer,
    eventually,
    open_case,
)

pytestmark = pytest.mark.infra

HOUSING = NeedDomain.HOUSING


async def _issued(app: Running, home: Agency, *targets: Agency) -> tuple[str, str, str]:
    case_id, client_id = await open_case(app, home, consent_for=tuple(t.agency_id for t in targets))
    body = await answer(
        await app.http.post(
            f"/cases/{case_id}/termination",
            json={"reason": "manager_left"},
            headers=home.supervisor,
        ),
        201,
    )
    assert body["events"] == ["CaseTerminated", "ReferralIssued"]
    return case_id, client_id, body["referral_id"]


async def test_the_target_accepts_and_then_counts_as_having_served_the_client_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    target = await agency(closure, HOUSING)
    case_id, client_id, referral_id = await _issued(closure, home, target)
    # Only the target's staff answer: the sending agency is refused, and nothing is written.
    before = await closure.events(case_id)
    await answer(
        await closure.http.post(f"/referrals/{referral_id}/acceptance", headers=home.supervisor),
        404,
    )
    assert await closure.events(case_id) == before
    body = await answer(
        await closure.http.post(f"/referrals/{referral_id}/acceptance", headers=target.admin), 201
    )
    assert body["events"] == ["ReferralAccepted"] and body["referral_status"] == "accepted"
    assert (await closure.events(f"client:{client_id}")).count("ServedLearned") == 2
    again = await answer(
        await closure.http.post(f"/referrals/{referral_id}/acceptance", headers=target.admin), 409
    )
    assert again["rule"] == "R9"


async def test_a_declined_referral_goes_to_the_next_eligible_target_in_the_same_append_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    first = await agency(closure, HOUSING)
    second = await agency(closure, HOUSING)
    ordered = sorted((first, second), key=lambda a: a.agency_id)
    case_id, _, referral_id = await _issued(closure, home, *ordered)
    refused = await closure.http.post(
        f"/referrals/{referral_id}/decline",
        json={"reason": "no_such_reason"},
        headers=ordered[0].supervisor,
    )
    assert refused.status_code == 422
    body = await answer(
        await closure.http.post(
            f"/referrals/{referral_id}/decline",
            json={"reason": "no_capacity"},
            headers=ordered[0].supervisor,
        ),
        201,
    )
    assert body["events"] == ["ReferralDeclined", "ReferralIssued"]
    assert body["target"]["agency_id"] == ordered[1].agency_id
    options = await answer(
        await closure.http.get(f"/cases/{case_id}/referral-options", headers=home.supervisor), 200
    )
    declined = next(
        o for o in options["options"] if o["provider"]["agency_id"] == ordered[0].agency_id
    )
    assert "declined_or_overdue" in declined["exclusions"]


async def test_an_unanswered_referral_goes_overdue_once_and_moves_on_r9(closure: Running) -> None:
    home = await agency(closure, HOUSING)
    first = await agency(closure, HOUSING)
    second = await agency(closure, HOUSING)
    ordered = sorted((first, second), key=lambda a: a.agency_id)
    case_id, _, _ = await _issued(closure, home, *ordered)
    clock = closure.stack.clock
    try:
        clock.day = TODAY + timedelta(days=15)
        # Several passes at once (as a restarted process beside the old one would run):
        # derived event ids and the stream's version let exactly one say it.
        ports = closure.app.state.runtime.ports
        await asyncio.gather(*(ClosureScheduler(ports).run_once() for _ in range(3)))
        events = await eventually(
            lambda: closure.events(case_id),
            lambda e: "ReferralOverdue" in e,
            "the referral overdue",
        )
        assert events[-2:] == ["ReferralOverdue", "ReferralIssued"]
        view = await answer(
            await closure.http.get(f"/cases/{case_id}", headers=home.supervisor), 200
        )
        assert view["referral"]["target"]["agency_id"] == ordered[1].agency_id
        # Later passes say nothing more: the new referral is not due yet.
        await ClosureScheduler(closure.app.state.runtime.ports).run_once()
        settled = await closure.events(case_id)
        assert settled.count("ReferralOverdue") == 1 and settled.count("ReferralIssued") == 2
    finally:
        clock.day = TODAY


async def test_the_client_may_decline_the_referral_and_it_leaves_the_board_r4(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    target = await agency(closure, HOUSING)
    case_id, _, referral_id = await _issued(closure, home, target)
    body = await answer(
        await closure.http.post(f"/cases/{case_id}/referral/client-decline", headers=home.manager),
        201,
    )
    assert body["events"] == ["ReferralDeclinedByClient"]
    inbox = await answer(await closure.http.get("/inbox", headers=target.supervisor), 200)
    assert referral_id not in [r["referral_id"] for r in inbox]
    late = await answer(
        await closure.http.post(f"/referrals/{referral_id}/acceptance", headers=target.supervisor),
        409,
    )
    assert late["rule"] == "R9"


async def test_the_linked_case_at_the_target_completes_the_referral_and_fhir_shows_it_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    target = await agency(closure, HOUSING)
    stranger = await agency(closure, HOUSING)
    case_id, _, referral_id = await _issued(closure, home, target)
    await answer(
        await closure.http.post(f"/referrals/{referral_id}/acceptance", headers=target.manager),
        201,
    )
    linked = f"linked-{case_id}"
    await closure.stack.intake.record(
        linked,
        target.agency_id,
        CaseFound(
            source=CaseSource.INBOUND_REFERRAL,
            referring_agency_id=home.agency_id,
            referring_case_id=case_id,
        ),
    )
    await eventually(
        lambda: closure.events(case_id), lambda e: "ReferralCompleted" in e, "completed"
    )
    for reader in (home.supervisor, target.supervisor):
        exported = await answer(
            await closure.http.get(f"/referrals/{referral_id}/fhir", headers=reader), 200
        )
        Bundle.model_validate(exported)
        request, task = (e["resource"] for e in exported["entry"])
        assert ServiceRequest.model_validate(request).status == "completed"
        assert Task.model_validate(task).status == "completed"
    hidden = await closure.http.get(f"/referrals/{referral_id}/fhir", headers=stranger.supervisor)
    assert hidden.status_code == 404


async def test_a_pending_referral_is_escalated_past_the_bound_then_issued_once_consent_comes_r4_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    target = await agency(closure, HOUSING)
    case_id, client_id = await open_case(closure, home)
    body = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination",
            json={"reason": "manager_left"},
            headers=home.supervisor,
        ),
        201,
    )
    assert body["events"] == ["CaseTerminated", "ReferralPending"]
    clock = closure.stack.clock
    try:
        clock.day = TODAY + timedelta(days=8)
        await eventually(
            lambda: closure.events(case_id), lambda e: "ReferralEscalated" in e, "escalated"
        )
        board = await answer(await closure.http.get("/board", headers=home.supervisor), 200)
        line = next(r for r in board if r["case_id"] == case_id)
        assert line["escalated"] and line["age_days"] == 8
        await closure.stack.intake.record(
            case_id,
            home.agency_id,
            ConsentRecorded(
                consent_id=f"consent-late-{case_id}",
                client_id=client_id,
                agencies=(target.agency_id,),
                purposes=(ConsentPurpose.REFERRAL,),
                valid_from=TODAY,
                valid_until=TODAY + timedelta(days=90),
            ),
        )
        events = await eventually(
            lambda: closure.events(case_id), lambda e: "ReferralIssued" in e, "issued"
        )
        assert events.count("ReferralIssued") == 1 and events.count("ReferralEscalated") == 1
        inbox = await answer(await closure.http.get("/inbox", headers=target.manager), 200)
        assert case_id in [r["case_id"] for r in inbox]
    finally:
        clock.day = TODAY
