"""The kit's vault across services: consent-gated reads in an access log of ids only, and a
later service's vault that shreds a client when intake's `ClientErased` reaches it (R4, R11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared.envelope import Role
from shared.store import EventStore
from tests.harness import running_service, unique_schema, unique_topic
from tests.integration.intake.conftest import (
    CONSENT_UNTIL,
    Agency,
    Network,
    eventually,
    make_agency,
    person,
    through_intake,
)
from tests.integration.intake.test_pii_scan import encodings, found_in
from tests.kit_service import build as build_notes


def _personal_needles(details: dict[str, Any]) -> list[str]:
    values = [
        details["name"],
        details["resident_number"],
        details["resident_number"].replace("-", ""),
        details["phone"],
        details["address"],
    ]
    return sorted({form for value in values for form in encodings(value)})


async def _log(net: Network, client_id: str, **params: str) -> list[dict[str, Any]]:
    answer = await net.intake.get(
        "/vault/access-log",
        params={"client_id": client_id, **params},
        headers=net.auth(Role.AUDITOR, "network", "auditor-1"),
    )
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


async def test_r11_every_read_of_a_client_allowed_or_refused_is_logged_with_its_basis_and_no_personal_data(  # noqa: E501
    network: Network,
) -> None:
    a = await make_agency(network, {"cm-va": 5})
    b = await make_agency(network, {"cm-vb": 5})
    details = person("Vault Access")
    started = datetime.now(UTC) - timedelta(seconds=1)
    case_id, client_id = await through_intake(a, details)
    http = network.intake

    # Another agency without a consent naming it: 404, as for an id nobody holds; logged.
    refused = await http.get(f"/clients/{client_id}", headers=b.manager())
    assert refused.status_code == 404
    # The holding agency reads its client.
    own = await http.get(f"/clients/{client_id}", headers=a.manager())
    assert own.status_code == 200 and own.json()["name"] == details["name"]
    # The client consents to a referral to B: B reads under that consent.
    consent = await http.post(
        f"/cases/{case_id}/consents",
        json={"agencies": [b.agency_id], "purposes": ["referral"], "valid_until": CONSENT_UNTIL},
        headers=a.manager(),
    )
    assert consent.status_code == 201, consent.text
    consent_id = consent.json()["consent_id"]
    by_consent = await http.get(f"/clients/{client_id}", headers=b.manager())
    assert by_consent.status_code == 200 and by_consent.json()["name"] == details["name"]
    # Withdrawn (from today on): refused again.
    withdrawn = await http.post(
        f"/cases/{case_id}/consents/{consent_id}/withdrawal", headers=a.manager()
    )
    assert withdrawn.status_code in (200, 201), withdrawn.text
    assert (await http.get(f"/clients/{client_id}", headers=b.manager())).status_code == 404

    rows = await _log(network, client_id, since=started.isoformat())
    reads = [
        (r["agency_id"], r["allowed"], r["outcome"], r["basis"], r["consent_id"], r["purpose"])
        for r in rows
    ]
    # The assessment read the client too (to keep cultural needs): the case's own agency.
    assert reads[0] == (a.agency_id, True, "opened", "case_agency", None, None)
    assert reads[1:] == [
        (b.agency_id, False, "refused", "no_grant", None, None),
        (a.agency_id, True, "opened", "case_agency", None, None),
        (b.agency_id, True, "opened", "consent", consent_id, "referral"),
        (b.agency_id, False, "refused", "no_grant", None, None),
    ]
    assert all(r["client_id"] == client_id and r["service"] == "intake" for r in rows)
    assert all(r["document_id"] == "details" and r["document_kind"] == "details" for r in rows)
    assert [r["staff_id"] for r in rows[1:]] == [b.managers[0], a.managers[0], *[b.managers[0]] * 2]
    assert all(r["role"] == "case_manager" for r in rows)

    # Ids and codes only: no name, phone, resident number or address, in any encoding, in
    # the answer or in the table itself.
    needles = _personal_needles(details)
    assert found_in(own.content, needles), "the control: the scan finds the data where it is"
    assert (
        found_in(
            (await http.get("/vault/access-log", headers=network.network_admin())).content,
            needles,
        )
        == []
    )
    table: bytes = await network.pool.fetchval(
        "SELECT convert_to(string_agg(t::text, E'\\n'), 'UTF8') "
        f'FROM "{network.schema}".vault_access_log AS t'
    )
    assert table and found_in(table, needles) == []

    # Auditors and network administrators only; the log cannot be rewritten.
    for member in (a.manager(), a.supervisor_auth()):
        answer = await http.get("/vault/access-log", headers=member)
        assert answer.status_code == 403
    assert await _log(network, client_id, since=datetime.now(UTC).isoformat()) == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await network.pool.execute(f'DELETE FROM "{network.schema}".vault_access_log')


@asynccontextmanager
async def notes_app(
    network: Network, members: list[tuple[str, str, Role]]
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The kit's test service as a later service: a vault that reads intake's topic.

    It has no directory consumer: its `members` are recorded in its principals directly."""
    topic = unique_topic("notes")
    async with running_service(
        lambda settings: build_notes(settings, topic=topic, erasures_from=(network.topics.intake,)),
        database_url=network.settings.database_url,
        kafka_bootstrap=network.settings.kafka_bootstrap_servers,
        schema=unique_schema("notes"),
        topics=(topic,),
        base_url="http://notes",
    ) as notes:
        for agency_id, staff_id, role in members:
            await notes.as_member(role, agency_id, staff_id)
        yield notes.http, notes.schema


async def test_r11_a_later_services_vault_shreds_the_client_when_intakes_erasure_arrives_over_kafka(
    network: Network, agency: Agency
) -> None:
    details = person("Notes Subject")
    case_id, client_id = await through_intake(agency, details)
    members = [
        (agency.agency_id, agency.managers[0], Role.CASE_MANAGER),
        ("agency-elsewhere", "cm-elsewhere", Role.CASE_MANAGER),
        ("network", "auditor-1", Role.AUDITOR),
    ]
    async with notes_app(network, members) as (notes, schema):
        helper = "이웃 박순자 씨가 매주 화요일 장보기를 돕는다"  # an informal helper, by name
        put = await notes.put(
            f"/clients/{client_id}/notes/n-1", json={"note": helper}, headers=agency.manager()
        )
        assert put.status_code == 204, put.text
        noted = await notes.post(
            f"/cases/{case_id}/notes", json={"note": "case event"}, headers=agency.manager()
        )
        assert noted.status_code == 201, noted.text
        first = await notes.get(f"/clients/{client_id}/notes/n-1", headers=agency.manager())
        assert first.json() == {"outcome": "opened", "note": helper}
        stranger = network.auth(Role.CASE_MANAGER, "agency-elsewhere", "cm-elsewhere")
        assert (
            await notes.get(f"/clients/{client_id}/notes/n-1", headers=stranger)
        ).status_code == 404

        erased = await network.intake.post(
            f"/clients/{client_id}/erasure", headers=agency.supervisor_auth()
        )
        assert erased.status_code == 200, erased.text

        async def note() -> dict[str, Any]:
            answer = await notes.get(f"/clients/{client_id}/notes/n-1", headers=agency.manager())
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        gone = await eventually(note, lambda b: b["outcome"] == "shredded", "shredded in notes")
        assert gone["note"] is None
        key = await network.pool.fetchrow(
            f'SELECT k.wrapped_key, k.shredded_at, d.sealed FROM "{schema}".vault_keys k '
            f'JOIN "{schema}".vault_documents d USING (client_id) WHERE client_id = $1',
            client_id,
        )
        assert key["wrapped_key"] is None and key["shredded_at"] and key["sealed"]
        assert helper.encode() not in bytes(key["sealed"])
        # Nothing new is kept about the erased client.
        later = await notes.put(
            f"/clients/{client_id}/notes/n-2", json={"note": helper}, headers=agency.manager()
        )
        assert later.status_code == 409 and later.json()["rule"] == "R11"

        # Intake reads the person as erased too, and every chain of both services verifies.
        shown = await network.intake.get(f"/clients/{client_id}", headers=agency.manager())
        assert shown.json()["erased"] is True and shown.json()["name"] is None
        for store_schema in (network.schema, schema):
            store = EventStore(network.pool, "intake", schema=store_schema)
            reports = await store.verify_all()
            assert reports and all(r.ok for r in reports), [r for r in reports if not r.ok]

        # The notes service's auditors see its reads: opened, refused, shredded; ids only.
        log = await notes.get(
            "/vault/access-log",
            params={"client_id": client_id},
            headers=network.auditor(),
        )
        assert log.status_code == 200, log.text
        outcomes = [r["outcome"] for r in log.json()]
        assert outcomes[:2] == ["opened", "refused"] and outcomes[-1] == "shredded"
        assert all(r["document_id"] == "note:n-1" for r in log.json())
        assert found_in(log.content, [*_personal_needles(details), helper]) == []
