"""Reviews, visits and evaluation over HTTP on real Kafka and PostgreSQL: refusals answer 409
with the rule and write nothing; incomplete answers 422 without echoing; roles 401/403."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.careplan.contract import CaseReturnedToPlanning
from services.monitoring.domain.instruments import SERVICE_PROVIDERS, SOCIAL_NETWORK
from shared.envelope import Role
from tests.harness import eventually
from tests.integration.kafka_reading import read_topic
from tests.integration.monitoring.conftest import (
    GOALS,
    START,
    Running,
    agency,
    case_in_force,
    plan_agreed,
    review_body,
)


async def test_r6d_a_review_records_the_four_answers_and_sets_the_next_review(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    answer = await monitoring.http.post(
        f"/cases/{case_id}/reviews",
        json=review_body(notes="Ms K. says the rent support helps a lot"),
        headers=ag.manager,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["events"] == ["ReviewRecorded"]
    case = await monitoring.case(case_id, ag.supervisor)
    assert case is not None and case["reviews"] == [answer.json()["record_id"]]
    today = monitoring.stack.clock()
    assert case["next_review_on"] == (today + timedelta(days=90)).isoformat()
    # The notes are sealed in the vault, never in an event.
    payloads = await monitoring.pool.fetch(
        "SELECT payload::text FROM events WHERE case_id = $1", case_id
    )
    assert not any("rent support" in r["payload"] for r in payloads)
    sealed = await monitoring.pool.fetchval(
        "SELECT count(*) FROM vault_documents WHERE document_id = $1",
        f"review:{answer.json()['record_id']}",
    )
    assert sealed == 1


async def test_r6d_a_review_missing_a_goal_is_422_naming_the_field_and_writes_nothing(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    before = await monitoring.events(case_id)
    partial = review_body(goals=[{"goal_id": GOALS[0], "progress": "reached"}])
    answer = await monitoring.http.post(
        f"/cases/{case_id}/reviews", json=partial, headers=ag.manager
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == "R6d"
    assert answer.json()["detail"][0]["loc"] == ["body", "goals"]
    assert GOALS[0] not in answer.text
    assert await monitoring.events(case_id) == before


async def test_r6d_a_dissatisfied_client_without_an_action_is_refused_409(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    before = await monitoring.events(case_id)
    answer = await monitoring.http.post(
        f"/cases/{case_id}/reviews",
        json=review_body(client_satisfied=False),
        headers=ag.manager,
    )
    assert answer.status_code == 409 and answer.json()["rule"] == "R6d", answer.text
    assert await monitoring.events(case_id) == before


async def test_r6d_new_needs_publish_a_revision_and_r1_evaluation_waits_for_the_revised_plan(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    for code, score in ((SOCIAL_NETWORK, 10), (SERVICE_PROVIDERS, 12)):
        baseline = await monitoring.http.post(
            f"/cases/{case_id}/baselines",
            json={"instrument": code, "score": score, "scored_on": START.isoformat()},
            headers=ag.manager,
        )
        assert baseline.status_code == 201, baseline.text
    answer = await monitoring.http.post(
        f"/cases/{case_id}/reviews",
        json=review_body(new_needs=True, new_need_domains=["food"]),
        headers=ag.manager,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["events"] == ["ReviewRecorded", "PlanRevisionRequired"]

    # Careplan reads it from monitoring's topic.
    async def published() -> list[object]:
        records = await read_topic(
            monitoring.stack.settings.kafka_bootstrap_servers,
            monitoring.stack.topics.monitoring,
            expect=1,
            timeout=2,
        )
        return [
            r
            for r in records
            if r.key == case_id.encode()
            and ("ce_type", b"caseline.monitoring.PlanRevisionRequired.v1") in r.headers
        ]

    revision = await eventually(published, lambda found: len(found) >= 1, "published")
    assert len(revision) == 1

    evaluation = {
        "goals": [{"goal_id": g, "rating": "achieved"} for g in GOALS],
        "scores": {SOCIAL_NETWORK: 20, SERVICE_PROVIDERS: 18},
        "no_further_service_needed": False,
    }
    before = await monitoring.events(case_id)
    refused = await monitoring.http.post(
        f"/cases/{case_id}/evaluations", json=evaluation, headers=ag.manager
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "R1", refused.text
    assert "agreement" in refused.json()["detail"]
    assert await monitoring.events(case_id) == before

    # Careplan sends the case back to planning, then the client agrees to version 2.
    await monitoring.stack.careplan.record(
        case_id,
        ag.agency_id,
        CaseReturnedToPlanning(plan_version=1, review_id=answer.json()["record_id"]),
    )
    await plan_agreed(monitoring, ag, case_id, 2, monitoring.stack.clock())
    case = await monitoring.case(case_id, ag.supervisor)
    assert case is not None and not case["revision_pending"]

    # R7: version 2 has not been reviewed yet.
    not_reviewed = await monitoring.http.post(
        f"/cases/{case_id}/evaluations", json=evaluation, headers=ag.manager
    )
    assert not_reviewed.status_code == 409 and not_reviewed.json()["rule"] == "R7"
    reviewed = await monitoring.http.post(
        f"/cases/{case_id}/reviews", json=review_body(), headers=ag.manager
    )
    assert reviewed.status_code == 201, reviewed.text
    evaluated = await monitoring.http.post(
        f"/cases/{case_id}/evaluations", json=evaluation, headers=ag.manager
    )
    assert evaluated.status_code == 201, evaluated.text
    assert evaluated.json()["events"] == ["EvaluationRecorded"]
    case = await monitoring.case(case_id, ag.supervisor)
    assert case is not None and case["planned_termination_permitted"]


async def test_r6d_home_visits_are_the_assigned_managers_and_never_in_the_future(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    today = monitoring.stack.clock()
    before = await monitoring.events(case_id)
    other = await monitoring.http.post(
        f"/cases/{case_id}/visits",
        json={"visited_on": today.isoformat()},
        headers=ag.other_manager,
    )
    assert other.status_code == 409 and other.json()["rule"] == "R6d", other.text
    future = await monitoring.http.post(
        f"/cases/{case_id}/visits",
        json={"visited_on": (today + timedelta(days=1)).isoformat()},
        headers=ag.manager,
    )
    assert future.status_code == 409 and future.json()["rule"] == "R6d", future.text
    assert await monitoring.events(case_id) == before
    visited = await monitoring.http.post(
        f"/cases/{case_id}/visits",
        json={"visited_on": today.isoformat(), "observations": "tidy flat, fridge empty"},
        headers=ag.manager,
    )
    assert visited.status_code == 201, visited.text


async def test_only_the_case_agencys_staff_write_and_readers_are_checked(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    stranger = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    url = f"/cases/{case_id}/reviews"
    assert (await monitoring.http.post(url, json=review_body())).status_code == 401
    auditor = monitoring.stack.auth("network", "auditor-1", Role.AUDITOR)
    assert (await monitoring.http.post(url, json=review_body(), headers=auditor)).status_code == 403
    foreign = await monitoring.http.post(url, json=review_body(), headers=stranger.manager)
    assert foreign.status_code == 403
    assert (await monitoring.http.get(f"/cases/{case_id}", headers=auditor)).status_code == 200
    assert (
        await monitoring.http.get(f"/cases/{case_id}", headers=stranger.supervisor)
    ).status_code == 403
    board = await monitoring.http.get(
        "/board", params={"agency_id": ag.agency_id}, headers=stranger.supervisor
    )
    assert board.status_code == 403


async def test_bad_input_is_422_without_echoing_it(monitoring: Running) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    answer = await monitoring.http.post(
        f"/cases/{case_id}/reviews",
        json=review_body(implementation="secret-value-123", unknown_field="x"),
        headers=ag.manager,
    )
    assert answer.status_code == 422
    assert "secret-value-123" not in answer.text


async def test_the_case_view_waits_for_what_was_learned(monitoring: Running) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    case = await eventually(
        lambda: monitoring.case(case_id, ag.manager), lambda c: c is not None, "the case"
    )
    assert case is not None and case["plan_version"] == 1 and case["agency_id"] == ag.agency_id


async def test_concurrent_reviews_each_answer_201_or_409_and_only_the_201s_are_written(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    answers = await asyncio.gather(
        *(
            monitoring.http.post(
                f"/cases/{case_id}/reviews", json=review_body(), headers=ag.manager
            )
            for _ in range(5)
        )
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    written = (await monitoring.events(case_id)).count("ReviewRecorded")
    assert written == statuses.count(201) >= 1


async def test_the_instrument_registry_is_readable_and_the_network_reads_any_board(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    auditor = monitoring.stack.auth("network", "auditor-1", Role.AUDITOR)
    registry = await monitoring.http.get("/instruments", headers=ag.manager)
    assert registry.status_code == 200
    codes = {i["code"] for i in registry.json()}
    assert {SOCIAL_NETWORK, SERVICE_PROVIDERS} <= codes
    board = await monitoring.http.get("/board", params={"agency_id": ag.agency_id}, headers=auditor)
    assert board.status_code == 200 and board.json()["agency_id"] == ag.agency_id
