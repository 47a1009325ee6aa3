"""The template through HTTP on the real broker and database: token -> command -> event
store -> relay -> Kafka -> consumer -> read model, and every refusal writing nothing."""

from __future__ import annotations

from typing import Any

from tests.integration.template.conftest import TemplateApp, eventually


async def open_item(t: TemplateApp, kind: str = "home-visit") -> str:
    answer = await t.http.post("/items", json={"kind": kind}, headers=t.auth("cm-1"))
    assert answer.status_code == 201, answer.text
    item_id: str = answer.json()["item_id"]
    return item_id


async def read(t: TemplateApp, item_id: str, staff_id: str = "cm-1") -> Any:
    answer = await t.http.get(f"/items/{item_id}", headers=t.auth(staff_id))
    assert answer.status_code in (200, 404), answer.text
    return answer.json() if answer.status_code == 200 else None


async def test_a_command_is_recorded_and_reaches_the_read_model_through_kafka(
    template: TemplateApp,
) -> None:
    t = template
    opened = await t.http.post("/items", json={"kind": "home-visit"}, headers=t.auth("cm-1"))
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["stage"], body["stream_version"]) == ("open", 1)
    assert [e["event_type"] for e in body["events"]] == ["ItemOpened"]
    item_id = body["item_id"]
    assert await t.events(item_id) == 1

    seen = await eventually(lambda: read(t, item_id), bool, "in the read model")
    assert (seen["stage"], seen["kind"], seen["agency_id"]) == ("open", "home-visit", "ag-template")

    closed = await t.http.post(
        f"/items/{item_id}/close", json={"outcome": "done"}, headers=t.auth("sup-1")
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["stage"], closed.json()["stream_version"]) == ("closed", 2)
    seen = await eventually(
        lambda: read(t, item_id, "sup-1"),
        lambda item: bool(item) and item["stage"] == "closed",
        "closed in the read model",
    )
    assert seen["outcome"] == "done" and seen["closed_at"] is not None


async def test_r1_a_refused_command_answers_409_with_its_rule_and_writes_nothing(
    template: TemplateApp,
) -> None:
    t = template
    item_id = await open_item(t)
    first = await t.http.post(
        f"/items/{item_id}/close", json={"outcome": "dropped"}, headers=t.auth("sup-1")
    )
    assert first.status_code == 200, first.text
    again = await t.http.post(
        f"/items/{item_id}/close", json={"outcome": "done"}, headers=t.auth("sup-1")
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "the item was already closed (dropped)", "rule": "R1"}
    assert await t.events(item_id) == 2


async def test_a_bad_body_answers_422_saying_where_without_repeating_it(
    template: TemplateApp,
) -> None:
    t = template
    before = await t.events()
    secret = "Kim Minji 900101-1234567"
    answer = await t.http.post(
        "/items", json={"kind": secret, "nickname": secret}, headers=t.auth("cm-1")
    )
    assert answer.status_code == 422
    assert secret not in answer.text and "900101" not in answer.text
    assert {tuple(e["loc"]) for e in answer.json()["detail"]} == {
        ("body", "kind"),
        ("body", "(unknown field)"),
    }
    assert await t.events() == before


async def test_no_token_answers_401_and_a_token_of_the_wrong_role_403(
    template: TemplateApp,
) -> None:
    t = template
    before = await t.events()
    anonymous = await t.http.post("/items", json={"kind": "home-visit"})
    assert anonymous.status_code == 401
    administrator = await t.http.post(
        "/items", json={"kind": "home-visit"}, headers=t.auth("admin-1")
    )
    assert administrator.status_code == 403
    item_id = await open_item(t)
    manager_closing = await t.http.post(
        f"/items/{item_id}/close", json={"outcome": "done"}, headers=t.auth("cm-1")
    )
    assert manager_closing.status_code == 403
    assert await t.events() == before + 1


async def test_r11_another_agencys_item_answers_like_one_that_does_not_exist(
    template: TemplateApp,
) -> None:
    t = template
    item_id = await open_item(t)
    await eventually(lambda: read(t, item_id), bool, "in the read model")
    elsewhere = t.auth("sup-2")
    seen = await t.http.get(f"/items/{item_id}", headers=elsewhere)
    closing = await t.http.post(
        f"/items/{item_id}/close", json={"outcome": "done"}, headers=elsewhere
    )
    missing = await t.http.post(
        "/items/item-none/close", json={"outcome": "done"}, headers=elsewhere
    )
    assert seen.status_code == closing.status_code == missing.status_code == 404
    assert closing.json() == {"detail": f"no item {item_id}"}
    assert await t.events(item_id) == 1


async def test_health_answers_200_while_the_relay_and_both_consumers_run(
    template: TemplateApp,
) -> None:
    answer = await template.http.get("/health")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["service"] == "template" and report["status"] == "ok"
    assert set(report["consumers"]) == {"template.read-model", "template.principals"}
