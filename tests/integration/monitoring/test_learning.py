"""What monitoring learns from careplan's topic: item states and agreements, each applied
once however often Kafka delivers it."""

from __future__ import annotations

from services.careplan.contract import LinkDeclined, ServiceDelivered
from services.careplan.domain.events import LinkDeclineReason
from shared.codec import to_kafka
from tests.harness import eventually
from tests.integration.monitoring.conftest import (
    Running,
    agency,
    case_in_force,
    review_body,
)


async def learned_progress(app: Running, case_id: str) -> list[str]:
    rows = await app.pool.fetch(
        "SELECT payload->>'item_id' || ':' || (payload->>'progress') AS fact FROM events "
        "WHERE case_id = $1 AND event_type = 'ItemProgressLearned' ORDER BY stream_version",
        case_id,
    )
    return [r["fact"] for r in rows]


async def test_a_redelivered_careplan_event_is_applied_once(monitoring: Running) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    today = monitoring.stack.clock()
    careplan = monitoring.stack.careplan
    await careplan.record(
        case_id,
        ag.agency_id,
        LinkDeclined(
            item_id="item-2",
            link_id="link-1",
            agency_id="ag-partner",
            reason=LinkDeclineReason.NO_CAPACITY,
            answered_on=today,
        ),
    )
    await eventually(
        lambda: learned_progress(monitoring, case_id),
        lambda facts: facts == ["item-2:not_received"],
        "the declined link learned",
    )
    # Kafka delivers the same message again (a producer retry, a rebalance).
    [stored] = [
        e for e in await careplan.store.read_stream_raw(case_id) if e.event_type == "LinkDeclined"
    ]
    record = to_kafka(stored, "careplan")
    await monitoring.stack.producer.send_and_wait(
        monitoring.stack.topics.careplan, record.value, key=record.key, headers=record.headers
    )
    # A later event of the same case (same partition) proves the duplicate was read first.
    await careplan.record(
        case_id,
        ag.agency_id,
        ServiceDelivered(item_id="item-1", link_id="own", delivered_on=today),
    )
    await eventually(
        lambda: learned_progress(monitoring, case_id),
        lambda facts: "item-1:delivered" in facts,
        "the delivery learned",
    )
    assert await learned_progress(monitoring, case_id) == [
        "item-2:not_received",
        "item-1:delivered",
    ]
    seen = await monitoring.pool.fetchval(
        "SELECT count(*) FROM processed_messages WHERE event_id = $1", stored.event_id
    )
    assert seen == 1


async def test_r4_an_item_the_client_declined_is_not_asked_about_in_a_review(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag, declined=("item-2",))
    both = await monitoring.http.post(
        f"/cases/{case_id}/reviews", json=review_body(), headers=ag.manager
    )
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "items"]
    only_the_agreed = review_body(items=[{"item_id": "item-1", "fit": "appropriate"}])
    answer = await monitoring.http.post(
        f"/cases/{case_id}/reviews", json=only_the_agreed, headers=ag.manager
    )
    assert answer.status_code == 201, answer.text
