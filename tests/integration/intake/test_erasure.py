"""Erasure (crypto-shredding): the person's fields are gone, the history replays and verifies."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.intake.adapters.read_model import IntakeReadModel
from services.intake.adapters.vault import DETAILS, PiiVault
from services.intake.application.ports import CASE_MODEL
from services.intake.domain.model import Stage
from shared.application import CommandPath
from shared.grants import AccessDecision, Accessor
from shared.store import EventStore
from tests.integration.intake.conftest import Agency, Network, eventually, person, through_intake
from tests.integration.kafka_reading import read_topic


async def _summaries(net: Network) -> list[tuple[Any, ...]]:
    rows = await net.pool.fetch(
        f"SELECT case_id, agency_id, stage, client_id, client_erased, crisis, assigned_staff_id, "
        f'assignment_override, stream_version FROM "{net.schema}".case_summary ORDER BY case_id'
    )
    return [tuple(r) for r in rows]


async def test_r11_an_erased_client_reads_as_erased_and_every_chain_still_verifies(
    network: Network, agency: Agency
) -> None:
    http = network.intake
    details = person("Erasure Subject", born=date(1944, 8, 15), serial="112233")
    case_id, client_id = await through_intake(agency, details, cultural_needs="kosher meals")
    # The same person returns for a second case: erasure must reach both.
    second = (
        await http.post("/cases", json={"source": "self_referral"}, headers=agency.manager())
    ).json()["case_id"]
    linked = await http.post(
        f"/cases/{second}/returning-client",
        json={"client_id": client_id, "name": details["name"], "birth_date": "1944-08-15"},
        headers=agency.manager(),
    )
    assert linked.status_code == 201, linked.text

    before = await http.get(f"/clients/{client_id}", headers=agency.manager())
    assert before.json()["name"] == details["name"]
    assert before.json()["cultural_needs"] == "kosher meals"

    by_manager = await http.post(f"/clients/{client_id}/erasure", headers=agency.manager())
    assert by_manager.status_code == 403
    erased = await http.post(f"/clients/{client_id}/erasure", headers=agency.supervisor_auth())
    assert erased.status_code == 200, erased.text
    assert sorted(a["case_id"] for a in erased.json()) == sorted([case_id, second])
    assert all(a["recorded"] == ["ClientErased"] for a in erased.json())

    # Personal fields cannot be read any more: not by the API, not from the vault row.
    after = await http.get(f"/clients/{client_id}", headers=agency.manager())
    assert after.status_code == 200
    fields = after.json()
    assert fields["erased"] is True and fields["erased_at"]
    assert {k: v for k, v in fields.items() if k not in ("client_id", "erased", "erased_at")} == {
        "name": None,
        "birth_date": None,
        "resident_number_masked": None,
        "phone": None,
        "address": None,
        "preferred_language": None,
        "cultural_needs": None,
    }
    s = network.schema
    row = await network.pool.fetchrow(
        f'SELECT k.wrapped_key, k.shredded_at, p.duplicate_index, d.sealed FROM "{s}".vault_keys k '
        f'JOIN "{s}".pii_vault p USING (client_id) JOIN "{s}".vault_documents d USING (client_id) '
        "WHERE client_id = $1 AND d.document_id = $2",
        client_id,
        DETAILS,
    )
    assert row["wrapped_key"] is None and row["duplicate_index"] is None and row["shredded_at"]
    assert row["sealed"]  # noise without the key: nothing else had to be rewritten
    vault = PiiVault.from_settings(network.settings)
    auditor = Accessor(staff_id="auditor-1", role="auditor", agency_id="network")
    async with network.service_pool.acquire() as conn:
        record = await vault.read(conn, auditor, client_id, AccessDecision.allow("audit"))
    assert record is not None and record.erased and record.details is None

    # The history still replays: every event decodes, the case folds, the chains verify.
    store = EventStore(network.pool, "intake", schema=network.schema)
    path = CommandPath(store, CASE_MODEL)
    for case in (case_id, second):
        loaded = await path.load(case)
        assert loaded.state.client_erased and loaded.version == len(await store.read_stream(case))
    state = (await path.load(case_id)).state
    assert state.stage is Stage.ASSIGNED and state.assignment is not None
    reports = await store.verify_all()
    assert reports and all(r.ok for r in reports), [r for r in reports if not r.ok]
    view = (await http.get(f"/cases/{case_id}", headers=agency.manager())).json()
    assert view["client_erased"] is True and view["stage"] == "assigned"
    assert all(not c["in_force"] for c in view["consents"])

    # The read model rebuilt from the store is the live one.
    live = await _summaries(network)
    await IntakeReadModel(network.service_pool).rebuild(store)
    assert await _summaries(network) == live

    # The erasure travelled on Kafka like any other event, without personal data.
    records = await eventually(
        lambda: read_topic(
            network.settings.kafka_bootstrap_servers, network.topics.intake, expect=1, timeout=1
        ),
        lambda got: any(
            r.key == case_id.encode()
            and dict(r.headers)["ce_type"] == b"caseline.intake.ClientErased.v1"
            for r in got
        ),
        "ClientErased on the intake topic",
    )
    erased_values = [
        r.value
        for r in records
        if dict(r.headers)["ce_type"] == b"caseline.intake.ClientErased.v1"
        and r.key in (case_id.encode(), second.encode())
    ]
    assert erased_values == [f'{{"client_id":"{client_id}"}}'.encode()] * 2

    # Nothing more is done with the erased person; erasing again records nothing.
    refused = await http.post(
        f"/cases/{case_id}/consents",
        json={
            "agencies": [agency.agency_id],
            "purposes": ["referral"],
            "valid_until": "2099-01-01",
        },
        headers=agency.manager(),
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "R11"
    twice = await http.post(f"/clients/{client_id}/erasure", headers=agency.supervisor_auth())
    assert twice.status_code == 200 and all(a["recorded"] == [] for a in twice.json())

    # The erased person no longer matches as a duplicate: their index went with the key.
    fresh = (
        await http.post("/cases", json={"source": "walk_in"}, headers=agency.manager())
    ).json()["case_id"]
    again = await http.post(f"/cases/{fresh}/registration", json=details, headers=agency.manager())
    assert again.status_code == 201, again.text
    assert again.json()["client_id"] != client_id
