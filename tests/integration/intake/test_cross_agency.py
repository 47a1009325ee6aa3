"""Two agencies and one person: what agency B may learn, read and do about agency A's client.

R11: a client known elsewhere in the network is never revealed to an agency without the
client's consent (in force) naming that agency, and their personal data is read by another
agency only with consent for a purpose that allows it. R4: nothing goes to an agency without
consent. An agency's staff act on their agency's cases; an erasure that reaches several
agencies is the network administrators' act, and every event names the case's agency.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from services.intake.adapters.read_model import IntakeReadModel
from tests.integration.intake.conftest import (
    CONSENT_UNTIL,
    Agency,
    Network,
    eventually,
    make_agency,
    person,
    through_intake,
)
from tests.integration.kafka_reading import read_topic

NOBODY = "client-00000000000000000000000000000000"


async def _open(agency: Agency) -> str:
    opened = await agency.net.intake.post(
        "/cases", json={"source": "walk_in"}, headers=agency.manager()
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def _consent(agency: Agency, case_id: str, agencies: list[str], purposes: list[str]) -> str:
    answer = await agency.net.intake.post(
        f"/cases/{case_id}/consents",
        json={"agencies": agencies, "purposes": purposes, "valid_until": CONSENT_UNTIL},
        headers=agency.manager(),
    )
    assert answer.status_code == 201, answer.text
    consent_id: str = answer.json()["consent_id"]
    return consent_id


def _returning(client_id: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": client_id, "name": details["name"], "birth_date": details["birth_date"]}


def _as_if(answer: Any, client_id: str) -> tuple[int, str]:
    """An answer with the client id it names replaced, to compare with an unknown id's."""
    return answer.status_code, answer.text.replace(client_id, NOBODY)


async def _metadata(net: Network, case_id: str) -> list[dict[str, Any]]:
    rows = await net.pool.fetch(
        f'SELECT metadata::text AS m FROM "{net.schema}".events WHERE case_id = $1 '
        "ORDER BY stream_version",
        case_id,
    )
    return [json.loads(r["m"]) for r in rows]


async def _two_agencies(network: Network) -> tuple[Agency, Agency]:
    return (
        await make_agency(network, {"cm-a": 5}),
        await make_agency(network, {"cm-b": 5}),
    )


async def test_r11_another_agency_learns_nothing_of_a_client_who_never_consented_to_it(
    network: Network,
) -> None:
    http = network.intake
    a, b = await _two_agencies(network)
    details = person("Known At A", born=date(1958, 3, 4), serial="145678")
    a_case, a_client = await through_intake(a, details, cultural_needs="halal meals")

    # B registers the same person: no 409 naming A's client; a new client of B's own.
    b_case = await _open(b)
    registered = await http.post(f"/cases/{b_case}/registration", json=details, headers=b.manager())
    assert registered.status_code == 201, registered.text
    assert a_client not in registered.text
    b_client = registered.json()["client_id"]
    assert b_client != a_client
    assert await network.events_in(b_case) == ["CaseFound", "ClientRegistered"]

    # Linking A's client, or reading them, answers exactly as an id nobody holds does.
    fresh = await _open(b)
    vault_before = await network.vault_rows()
    for client_id in (a_client, NOBODY):
        linked = await http.post(
            f"/cases/{fresh}/returning-client",
            json=_returning(client_id, details),
            headers=b.manager(),
        )
        assert linked.status_code == 404, linked.text
    theirs = await http.post(
        f"/cases/{fresh}/returning-client", json=_returning(a_client, details), headers=b.manager()
    )
    unknown = await http.post(
        f"/cases/{fresh}/returning-client", json=_returning(NOBODY, details), headers=b.manager()
    )
    assert _as_if(theirs, a_client) == _as_if(unknown, NOBODY)
    for headers in (b.manager(), b.supervisor_auth()):
        read = await http.get(f"/clients/{a_client}", headers=headers)
        nobody = await http.get(f"/clients/{NOBODY}", headers=headers)
        assert read.status_code == 404
        assert _as_if(read, a_client) == _as_if(nobody, NOBODY)
        assert details["name"] not in read.text
    assert await network.events_in(fresh) == ["CaseFound"]
    assert await network.vault_rows() == vault_before

    # The possible match went to the network administrators, ids only.
    queue = await http.get("/network/possible-duplicates", headers=network.network_admin())
    assert queue.status_code == 200, queue.text
    mine = [e for e in queue.json() if e["case_id"] == b_case]
    assert [(e["client_id"], e["possible_duplicate_of"], e["agency_id"]) for e in mine] == [
        (b_client, a_client, b.agency_id)
    ]
    assert details["name"] not in queue.text and details["resident_number"] not in queue.text
    assert set(mine[0]) == {
        "review_id",
        "recorded_at",
        "agency_id",
        "case_id",
        "client_id",
        "possible_duplicate_of",
        "possible_duplicate_agencies",
    }
    assert mine[0]["possible_duplicate_agencies"] == [a.agency_id]
    for headers in (b.manager(), b.supervisor_auth(), a.supervisor_auth()):
        refused = await http.get("/network/possible-duplicates", headers=headers)
        assert refused.status_code == 403

    # A still sees its own client in full.
    own = await http.get(f"/clients/{a_client}", headers=a.manager())
    assert own.status_code == 200 and own.json()["cultural_needs"] == "halal meals"
    assert a_case


async def test_r11_a_consent_naming_another_agency_lets_it_find_link_and_read_the_client(
    network: Network,
) -> None:
    http = network.intake
    a, b = await _two_agencies(network)
    details = person("Consented To B", born=date(1960, 7, 8), serial="156789")
    a_case, a_client = await through_intake(a, details)

    # A consent naming B for monitoring only: B may learn of the client, not read them.
    monitoring = await _consent(a, a_case, [b.agency_id], ["monitoring"])
    b_case = await _open(b)
    flagged = await http.post(f"/cases/{b_case}/registration", json=details, headers=b.manager())
    assert flagged.status_code == 409, flagged.text
    assert flagged.json()["possible_duplicates"] == [a_client]
    assert (await http.get(f"/clients/{a_client}", headers=b.manager())).status_code == 404

    # Withdrawn, it reveals nothing any more.
    withdrawn = await http.post(
        f"/cases/{a_case}/consents/{monitoring}/withdrawal", headers=a.manager()
    )
    assert withdrawn.status_code == 200, withdrawn.text
    hidden = await http.post(
        f"/cases/{await _open(b)}/returning-client",
        json=_returning(a_client, details),
        headers=b.manager(),
    )
    assert hidden.status_code == 404

    # A consent naming B for referral: B reads the details, and links the client.
    await _consent(a, a_case, [b.agency_id], ["referral"])
    read = await http.get(f"/clients/{a_client}", headers=b.manager())
    assert read.status_code == 200, read.text
    assert read.json()["name"] == details["name"]
    linked = await http.post(
        f"/cases/{b_case}/returning-client", json=_returning(a_client, details), headers=b.manager()
    )
    assert linked.status_code == 201, linked.text
    assert (await http.get(f"/clients/{a_client}", headers=b.supervisor_auth())).status_code == 200


async def test_r11_erasure_across_agencies_is_a_network_admins_act_naming_each_cases_agency(
    network: Network,
) -> None:
    http = network.intake
    a, b = await _two_agencies(network)
    details = person("Erased Across", born=date(1955, 9, 10), serial="167890")
    a_case, a_client = await through_intake(a, details)
    await _consent(a, a_case, [b.agency_id], ["referral"])
    b_case = await _open(b)
    linked = await http.post(
        f"/cases/{b_case}/returning-client", json=_returning(a_client, details), headers=b.manager()
    )
    assert linked.status_code == 201, linked.text

    # Neither agency's supervisor erases a client whose cases span both: nothing is written.
    before = {case: await network.events_in(case) for case in (a_case, b_case)}
    vault_row = (
        f'SELECT k.wrapped_key, p.erased_at FROM "{network.schema}".pii_vault p '
        f'JOIN "{network.schema}".vault_keys k USING (client_id) WHERE client_id = $1'
    )
    key_before = await network.pool.fetchrow(vault_row, a_client)
    for agency in (b, a):
        refused = await http.post(f"/clients/{a_client}/erasure", headers=agency.supervisor_auth())
        assert refused.status_code == 403, refused.text
    assert {case: await network.events_in(case) for case in (a_case, b_case)} == before
    assert await network.pool.fetchrow(vault_row, a_client) == key_before

    # The network administrator does; each ClientErased names its case's agency, and the
    # administrator's own agency separately.
    erased = await http.post(f"/clients/{a_client}/erasure", headers=network.network_admin())
    assert erased.status_code == 200, erased.text
    assert sorted(e["case_id"] for e in erased.json()) == sorted([a_case, b_case])
    for case, agency in ((a_case, a), (b_case, b)):
        last = (await _metadata(network, case))[-1]
        assert last["agency_id"] == agency.agency_id
        assert last["acting_agency_id"] == "network"
        assert last["actor"] == {"staff_id": "netadmin-1", "role": "network_admin"}
    # Events by the case's own agency carry no acting agency at all.
    assert all("acting_agency_id" not in m for m in (await _metadata(network, a_case))[:-1])

    records = await eventually(
        lambda: read_topic(
            network.settings.kafka_bootstrap_servers, network.topics.intake, expect=1, timeout=1
        ),
        lambda got: (
            sum(
                dict(r.headers)["ce_type"] == b"caseline.intake.ClientErased.v1"
                and r.key in (a_case.encode(), b_case.encode())
                for r in got
            )
            == 2
        ),
        "both ClientErased on the intake topic",
    )
    for case, agency in ((a_case, a), (b_case, b)):
        (headers,) = [
            dict(r.headers)
            for r in records
            if r.key == case.encode()
            and dict(r.headers)["ce_type"] == b"caseline.intake.ClientErased.v1"
        ]
        assert headers["ce_source"] == f"/agencies/{agency.agency_id}/intake".encode()
        assert headers["ce_agencyid"] == agency.agency_id.encode()
        assert headers["ce_actingagencyid"] == b"network"


async def test_r11_an_agency_erases_a_client_known_only_to_it_on_its_own_cases(
    network: Network,
) -> None:
    http = network.intake
    a, b = await _two_agencies(network)
    case_id, client_id = await through_intake(a)
    # B, which has no case of the client and no consent, learns nothing: 404 as for nobody.
    theirs = await http.post(f"/clients/{client_id}/erasure", headers=b.supervisor_auth())
    nobody = await http.post(f"/clients/{NOBODY}/erasure", headers=b.supervisor_auth())
    assert _as_if(theirs, client_id) == _as_if(nobody, NOBODY)
    assert theirs.status_code == 404
    erased = await http.post(f"/clients/{client_id}/erasure", headers=a.supervisor_auth())
    assert erased.status_code == 200, erased.text
    last = (await _metadata(network, case_id))[-1]
    assert last["agency_id"] == a.agency_id and "acting_agency_id" not in last


async def test_r11_consents_recorded_before_intake_kept_them_apart_are_read_from_the_events(
    network: Network,
) -> None:
    """A deployment upgraded to `case_consent` finds every earlier consent (and withdrawal)."""
    a, b = await _two_agencies(network)
    case_id, _ = await through_intake(a)
    withdrawn = await _consent(a, case_id, [b.agency_id], ["referral"])
    answer = await network.intake.post(
        f"/cases/{case_id}/consents/{withdrawn}/withdrawal", headers=a.manager()
    )
    assert answer.status_code == 200, answer.text
    await _consent(a, case_id, [b.agency_id], ["record_transfer", "monitoring"])
    table = f'"{network.schema}".case_consent'
    query = f"SELECT * FROM {table} ORDER BY case_id, consent_id"
    live = [tuple(r) for r in await network.pool.fetch(query)]
    assert len([r for r in live if r[0] == case_id]) == 3

    await network.pool.execute(f"DROP TABLE {table}")
    await IntakeReadModel.migrate(network.service_pool)
    assert [tuple(r) for r in await network.pool.fetch(query)] == live
