"""Termination and its referral over HTTP on the real stack (R1, R4, R8, R9, R10): one append
for the end and its referral, refusals that write nothing, roles, and the options list."""

from __future__ import annotations

import pytest

from services.careplan.contract import Delivery, PlanGoal, PlanItem, PlanVersionDrafted
from services.monitoring.contract import EvaluationRecorded, GoalRated, GoalRating, InstrumentResult
from shared.envelope import Role
from shared.vocabulary import NeedDomain
from tests.integration.closure.conftest import (
    TODAY,
    Running,
    agency,
    answer,
    eventually,
    open_case,
)

pytestmark = pytest.mark.infra

HOUSING = NeedDomain.HOUSING
INCOME = NeedDomain.INCOME


async def _positions(app: Running, case_id: str) -> list[tuple[str, int, object]]:
    rows = await app.pool.fetch(
        "SELECT event_type, stream_version, xmin::text::bigint AS tx FROM events "
        "WHERE case_id = $1 ORDER BY stream_version",
        case_id,
    )
    return [(r["event_type"], r["stream_version"], r["tx"]) for r in rows]


async def test_an_incomplete_end_and_its_referral_are_one_append_to_an_unserved_target_r8_r9(
    closure: Running,
) -> None:
    served_before = await agency(closure, HOUSING)
    target = await agency(closure, HOUSING)
    home = await agency(closure, HOUSING)
    client = f"client-{target.agency_id}"
    # The client had a case at `served_before` already: that agency is skipped (R9 (a)).
    await open_case(closure, served_before, client_id=client)
    case_id, _ = await open_case(
        closure,
        home,
        client_id=client,
        consent_for=(served_before.agency_id, target.agency_id),
    )
    body = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination",
            json={"reason": "programme_ended"},
            headers=home.manager,
        ),
        201,
    )
    assert body["events"] == ["CaseTerminated", "ReferralIssued"]
    assert body["target"]["agency_id"] == target.agency_id
    rows = await _positions(closure, case_id)
    ended, referred = rows[-2], rows[-1]
    # One transaction: the same writing transaction id, consecutive versions.
    assert ended[0] == "CaseTerminated" and referred[0] == "ReferralIssued"
    assert ended[2] == referred[2] and referred[1] == ended[1] + 1
    inbox = await answer(await closure.http.get("/inbox", headers=target.supervisor), 200)
    assert [r["case_id"] for r in inbox] == [case_id]


async def test_a_termination_carrying_a_class_is_422_without_echo_and_writes_nothing_r8(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    case_id, _ = await open_case(closure, home)
    before = await closure.events(case_id)
    refused = await closure.http.post(
        f"/cases/{case_id}/termination",
        json={"reason": "client_died", "termination_class": "complete_with_secret_123456"},
        headers=home.manager,
    )
    assert refused.status_code == 422
    assert "complete_with_secret_123456" not in refused.text
    assert await closure.events(case_id) == before


async def test_a_planned_termination_is_refused_until_evaluation_preparation_and_approval_r1_r8_r10(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    case_id, _ = await open_case(closure, home)
    before = await closure.events(case_id)
    planned = {"reason": "goals_achieved"}
    refused = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination", json=planned, headers=home.manager
        ),
        409,
    )
    assert refused["rule"] == "R1" and "evaluation" in refused["detail"]
    assert await closure.events(case_id) == before
    await closure.stack.monitoring.record(
        case_id,
        home.agency_id,
        EvaluationRecorded(
            evaluation_id="ev-1",
            plan_version=1,
            evaluated_on=TODAY,
            goals=(GoalRated(goal_id="goal-1", rating=GoalRating.ACHIEVED),),
            instruments=(
                InstrumentResult(instrument="a", baseline=1, score=2, change=1),
                InstrumentResult(instrument="b", baseline=1, score=2, change=1),
            ),
            no_further_service_needed=False,
            permits_planned_termination=True,
        ),
    )
    await eventually(
        lambda: closure.events(case_id), lambda e: "EvaluationLearned" in e, "evaluation learned"
    )
    refused = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination", json=planned, headers=home.manager
        ),
        409,
    )
    assert refused["rule"] == "R10"
    preparation = {
        "community_resources_found": True,
        "help_again_explained": True,
        "independent_activity_encouraged": True,
        "gains_maintenance_planned": True,
        "reactions": ["anxiety"],
        "responses": ["accepted_and_acknowledged", "reviewed_gains"],
    }
    await answer(
        await closure.http.post(
            f"/cases/{case_id}/preparation", json=preparation, headers=home.manager
        ),
        201,
    )
    # A case manager may not approve: only a supervisor (403); without approval R8 (409).
    await answer(await closure.http.post(f"/cases/{case_id}/approval", headers=home.manager), 403)
    refused = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination", json=planned, headers=home.manager
        ),
        409,
    )
    assert refused["rule"] == "R8"
    await answer(
        await closure.http.post(f"/cases/{case_id}/approval", headers=home.supervisor), 201
    )
    done = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination", json=planned, headers=home.manager
        ),
        201,
    )
    assert done["events"] == ["CaseTerminated"]
    again = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination", json={"reason": "client_died"}, headers=home.manager
        ),
        409,
    )
    assert again["rule"] == "R8"


async def test_only_the_cases_agency_may_end_it_and_others_see_no_such_case_r11(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    other = await agency(closure, HOUSING)
    case_id, _ = await open_case(closure, home)
    before = await closure.events(case_id)
    body = {"reason": "client_died"}
    assert (await closure.http.post(f"/cases/{case_id}/termination", json=body)).status_code == 401
    hidden = await closure.http.post(
        f"/cases/{case_id}/termination", json=body, headers=other.manager
    )
    assert hidden.status_code == 404  # R11: like a case that does not exist
    assert await closure.events(case_id) == before


async def test_referral_options_rank_room_first_and_name_each_exclusion_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING, INCOME)
    roomy = await agency(closure, HOUSING, INCOME)
    waiting = await agency(closure, HOUSING, INCOME, capacity=0)
    housing_only = await agency(closure, HOUSING)
    unconsented = await agency(closure, HOUSING, INCOME)
    case_id, _ = await open_case(
        closure,
        home,
        HOUSING,
        INCOME,
        consent_for=(roomy.agency_id, waiting.agency_id, housing_only.agency_id),
    )
    options = await answer(
        await closure.http.get(f"/cases/{case_id}/referral-options", headers=home.manager), 200
    )
    by_agency = {o["provider"]["agency_id"]: o for o in options["options"]}
    assert by_agency[roomy.agency_id]["rank"] == 1
    assert by_agency[waiting.agency_id]["rank"] == 2 and by_agency[waiting.agency_id]["waitlisted"]
    assert by_agency[home.agency_id]["exclusions"] == ["already_served", "no_consent"]
    assert by_agency[housing_only.agency_id]["exclusions"] == ["no_service_for_need"]
    assert by_agency[housing_only.agency_id]["missing"] == ["income"]
    assert by_agency[waiting.agency_id]["full_for"] == ["housing", "income"]
    assert by_agency[unconsented.agency_id]["exclusions"] == ["no_consent"]
    ranked = [o["provider"]["agency_id"] for o in options["options"] if o["eligible"]]
    assert ranked[:2] == [roomy.agency_id, waiting.agency_id]


async def test_without_consent_the_referral_is_pending_on_the_board_with_its_age_r4_r9(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    await agency(closure, HOUSING)
    case_id, _ = await open_case(closure, home)
    body = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination",
            json={"reason": "manager_left"},
            headers=home.supervisor,
        ),
        201,
    )
    assert body["events"] == ["CaseTerminated", "ReferralPending"]
    board = await answer(await closure.http.get("/board", headers=home.supervisor), 200)
    line = next(r for r in board if r["case_id"] == case_id)
    assert line["cause"] == "no_consent" and line["age_days"] == 0
    network = await answer(
        await closure.http.get(
            "/board", headers=closure.stack.auth("network", "auditor-1", Role.AUDITOR)
        ),
        200,
    )
    assert case_id in [r["case_id"] for r in network]


async def test_a_client_ending_care_answers_the_offer_and_a_declined_offer_writes_no_referral_r8(
    closure: Running,
) -> None:
    home = await agency(closure, HOUSING)
    case_id, _ = await open_case(closure, home)
    refused = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination",
            json={"reason": "client_withdrew"},
            headers=home.manager,
        ),
        409,
    )
    assert refused["rule"] == "R8"
    body = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination",
            json={"reason": "client_moved_away", "client_accepts_referral": False},
            headers=home.manager,
        ),
        201,
    )
    assert body["events"] == ["CaseTerminated", "ReferralOfferAnswered"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/cases/{case}/termination", {}),
        (
            "POST",
            "/cases/{case}/termination",
            {"reason": "client_died", "client_accepts_referral": "yes"},
        ),
        ("POST", "/cases/{case}/termination", [1, 2]),
        ("POST", "/cases/{case}/preparation", {"reactions": []}),
        ("POST", "/cases/no-such-case/termination", {"reason": "client_died"}),
        ("GET", "/cases/no-such-case/referral-options", None),
        ("POST", "/referrals/no-such-referral/acceptance", None),
        ("POST", "/referrals/no-such-referral/decline", {"reason": "no_capacity"}),
        ("GET", "/referrals/no-such-referral/fhir", None),
        ("POST", "/cases/bad id with spaces/termination", {"reason": "client_died"}),
    ],
)
async def test_odd_requests_are_refused_with_a_4xx_and_write_nothing(
    closure: Running, method: str, path: str, body: object
) -> None:
    home = await agency(closure, HOUSING)
    case_id, _ = await open_case(closure, home)
    before = await closure.events(case_id)
    answer = await closure.http.request(
        method, path.format(case=case_id), json=body, headers=home.supervisor
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert await closure.events(case_id) == before


async def test_needs_an_evaluation_found_met_are_not_referred_on_r7_r9(closure: Running) -> None:
    home = await agency(closure, HOUSING, INCOME)
    target = await agency(closure, INCOME)
    case_id, _ = await open_case(closure, home, HOUSING, INCOME, consent_for=(target.agency_id,))
    await closure.stack.careplan.record(
        case_id,
        home.agency_id,
        PlanVersionDrafted(
            plan_version=1,
            plan_date=TODAY,
            goals=tuple(
                PlanGoal(goal_id=g, target_date=TODAY, strengths=("motivation",))
                for g in ("goal-1", "goal-2")
            ),
            items=tuple(
                PlanItem(
                    item_id=f"item-{n}",
                    need_domain=domain,
                    goal_id=f"goal-{n}",
                    delivery=Delivery.OWN_AGENCY,
                    start_on=TODAY,
                    end_on=TODAY,
                )
                for n, domain in ((1, HOUSING), (2, INCOME))
            ),
        ),
    )
    await closure.stack.monitoring.record(
        case_id,
        home.agency_id,
        EvaluationRecorded(
            evaluation_id="ev-met",
            plan_version=1,
            evaluated_on=TODAY,
            goals=(
                GoalRated(goal_id="goal-1", rating=GoalRating.ACHIEVED),
                GoalRated(goal_id="goal-2", rating=GoalRating.PARTLY),
            ),
            instruments=(
                InstrumentResult(instrument="a", baseline=1, score=2, change=1),
                InstrumentResult(instrument="b", baseline=1, score=2, change=1),
            ),
            no_further_service_needed=False,
            permits_planned_termination=False,
        ),
    )
    view = await eventually(
        lambda: closure.http.get(f"/cases/{case_id}", headers=home.manager),
        lambda r: r.json().get("unmet_needs") == ["income"],
        "housing found met",
    )
    assert view.json()["needs"] == ["housing", "income"]
    body = await answer(
        await closure.http.post(
            f"/cases/{case_id}/termination", json={"reason": "manager_left"}, headers=home.manager
        ),
        201,
    )
    assert body["target"]["agency_id"] == target.agency_id  # income only: it can meet it
