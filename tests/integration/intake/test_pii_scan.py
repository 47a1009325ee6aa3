"""The PII scan: personal data given to intake appears in clear nowhere it should not.

Clients with distinctive personal data (unusual names in Hangul and Latin scripts, resident
numbers, phones, addresses, cultural needs) go through intake, including a refused duplicate,
a refused bad input, a screening out, a consent withdrawal and an erasure. Then every byte
of every message on every caseline topic (the DLQ included), every events table of every
schema, every table of the two services' schemas, and every log line of the run are
searched for that data in the usual encodings. Only the vault's sealed columns may hold
it, and they hold it encrypted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import unicodedata
from datetime import date
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.intake.domain.client import normalised_name
from services.intake.domain.rrn import make_resident_number
from tests.integration.intake.conftest import (
    Agency,
    Network,
    eventually,
    make_agency,
    through_intake,
)

PEOPLE: list[dict[str, Any]] = [
    {
        "name": "제갈솔빛나래",
        "birth_date": date(1938, 2, 17),
        "serial": "298173",
        "phone": "010-4729-8361",
        "address": "제주특별자치도 서귀포시 대정읍 가파리 999-7 솔빛하우스",
        "preferred_language": "ko",
        "cultural_needs": "제주어 통역 및 돼지고기 없는 식단",
    },
    {
        "name": "Zebulon Quixfeather-Ngata",
        "birth_date": date(2003, 7, 29),
        "serial": "381726",
        "phone": "+82 2-3958-7714",
        "address": "17 Rue des Cormorans Grelottants, Busan 48058",
        "preferred_language": "en",
        "cultural_needs": "Moana Pasifika prayer before meals",
    },
    {
        "name": "Nguyễn Thị Ửng Hoàng",
        "birth_date": date(1931, 12, 5),
        "serial": "691520",
        "phone": "010 8826 4410",
        "address": "인천광역시 부평구 청천동 구름다리길 42-13",
        "preferred_language": "vi",
        "cultural_needs": "Phật tử ăn chay mùng một và rằm",
    },
]


def registration(p: dict[str, Any]) -> dict[str, Any]:
    born: date = p["birth_date"]
    return {
        "name": p["name"],
        "birth_date": born.isoformat(),
        "resident_number": make_resident_number(born, p["serial"]),
        "phone": p["phone"],
        "address": p["address"],
        "preferred_language": p["preferred_language"],
    }


def secrets_of(p: dict[str, Any]) -> list[str]:
    """The personal values of one person, and the forms they are often written in."""
    number = make_resident_number(p["birth_date"], p["serial"])
    values = [
        p["name"],
        normalised_name(p["name"]),
        number,
        number.replace("-", ""),
        p["phone"],
        "".join(ch for ch in p["phone"] if ch.isdigit()),
        p["address"],
        p["cultural_needs"],
    ]
    # Parts long enough to identify on their own: the surname-less name, the street.
    values += [part for part in p["address"].split(" ") if len(part) >= 8]
    values += [part for part in p["name"].split(" ") if len(part) >= 6]
    return values


def encodings(value: str) -> set[str]:
    """Text forms a value takes: as is, NFD, JSON-escaped, base64, hex."""
    raw = value.encode()
    forms = {
        value,
        unicodedata.normalize("NFD", value),
        json.dumps(value)[1:-1],  # \uXXXX escapes
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    }
    return {f for f in forms if len(f) >= 6}


def needles() -> list[str]:
    return sorted({form for p in PEOPLE for v in secrets_of(p) for form in encodings(v)})


def found_in(blob: bytes, wanted: list[str]) -> list[str]:
    lowered = blob.lower()
    return [n for n in wanted if n.encode().lower() in lowered]


async def read_everything(bootstrap: str) -> dict[str, list[bytes]]:
    """Every message (key, value, header names and values) of every caseline topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.startswith("caseline."))
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        messages: dict[str, list[bytes]] = {t: [] for t in topics}

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, records in batch.items():
                for r in records:
                    parts = [r.key or b"", r.value or b""]
                    for name, header in r.headers:
                        parts += [name.encode(), header or b""]
                    messages[tp.topic].append(b"\x00".join(parts))
        return messages
    finally:
        await consumer.stop()


async def tables_to_scan(pool: asyncpg.Pool, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every events table of every schema, and every table of the services' own schemas."""
    rows = await pool.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND (table_name = 'events' "
        "OR table_schema = ANY($1::text[])) ORDER BY 1, 2",
        list(schemas),
    )
    return [(r["table_schema"], r["table_name"]) for r in rows]


@pytest.fixture
async def scan_agency(network: Network) -> Agency:
    return await make_agency(network, {"cm-scan": 10, "cm-scan-2": 10})


async def test_no_personal_data_in_clear_on_any_topic_events_table_or_log_line(
    network: Network, scan_agency: Agency, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agency, http = scan_agency, network.intake
    clients: list[str] = []
    for p in PEOPLE:
        case_id, client_id = await through_intake(
            agency, registration(p), cultural_needs=p["cultural_needs"]
        )
        clients.append(client_id)
        shown = await http.get(f"/clients/{client_id}", headers=agency.manager())
        assert shown.json()["name"] == p["name"]  # the vault does hold it, sealed
        # The control: where the data is meant to be in clear, the scan finds it.
        assert found_in(shown.content, needles())
        # A second registration of the same person is refused: with the data in the request.
        again = (
            await http.post("/cases", json={"source": "walk_in"}, headers=agency.manager())
        ).json()["case_id"]
        duplicate = await http.post(
            f"/cases/{again}/registration", json=registration(p), headers=agency.manager()
        )
        assert duplicate.status_code == 409
        # So is a registration whose resident number fails its check digit.
        bad = registration(p)
        bad["resident_number"] = bad["resident_number"][:-1] + str(
            (int(bad["resident_number"][-1]) + 3) % 10
        )
        assert (
            await http.post(f"/cases/{again}/registration", json=bad, headers=agency.manager())
        ).status_code == 422
        # And the reassignment and consent paths run too.
        moved = await http.post(
            f"/cases/{case_id}/reassignment",
            json={"to_staff_id": agency.managers[1], "reason": "language_or_culture_match"},
            headers=agency.supervisor_auth(),
        )
        assert moved.status_code == 200, moved.text
    erased = await http.post(f"/clients/{clients[0]}/erasure", headers=agency.supervisor_auth())
    assert erased.status_code == 200

    # Wait until intake's relay published everything and the directory consumed it.
    async def lag() -> int:
        value: int = (await http.get("/health")).json()["relay"]["lag"]
        return value

    await eventually(lag, lambda n: n == 0, "intake's relay caught up")
    directory_staff = await network.directory.get(
        "/staff", params={"agency_id": agency.agency_id}, headers=agency.manager()
    )
    assert directory_staff.status_code == 200

    wanted = needles()
    assert len(wanted) > 50

    # 1. Every message on every caseline topic, the DLQ included.
    messages = await read_everything(network.settings.kafka_bootstrap_servers)
    assert network.topics.intake in messages and "caseline.dlq.v1" in messages
    assert len(messages[network.topics.intake]) >= 3 * 7
    leaks = {
        topic: hits
        for topic, blobs in messages.items()
        if (hits := found_in(b"\x01".join(blobs), wanted))
    }
    assert leaks == {}

    # 2. Every events table of every schema, and every table of the two services' schemas.
    tables = await tables_to_scan(network.pool, (network.schema, network.directory_schema))
    assert (network.schema, "events") in tables and (network.schema, "pii_vault") in tables

    async def table_leaks(schema: str, table: str) -> tuple[str, list[str]]:
        # A row's text form shows bytea columns in hex, which the hex needles cover.
        blob: bytes = await network.pool.fetchval(
            "SELECT convert_to(coalesce(string_agg(t::text, E'\\n'), ''), 'UTF8') "
            f'FROM "{schema}"."{table}" AS t'
        )
        return f"{schema}.{table}", found_in(blob, wanted)

    scanned = await asyncio.gather(*(table_leaks(s, t) for s, t in tables))
    leaked_tables = [(table, hits) for table, hits in scanned if hits]
    control = f'"{network.schema}".scan_control'
    await network.pool.execute(f"CREATE TABLE {control} (note bytea)")
    await network.pool.execute(f"INSERT INTO {control} VALUES ($1)", PEOPLE[2]["name"].encode())
    assert (await table_leaks(network.schema, "scan_control"))[1], "the table scan sees bytea"
    await network.pool.execute(f"DROP TABLE {control}")
    assert leaked_tables == []
    vault_rows = await network.pool.fetchval(
        f'SELECT count(*) FROM "{network.schema}".pii_vault WHERE client_id = ANY($1::text[])',
        clients,
    )
    assert vault_rows == 3

    # 3. Every log line the services wrote while doing all this.
    log_text = caplog.text + "\n".join(str(r.msg) for r in caplog.records)
    assert "command.recorded" in log_text and "vault.read" in log_text
    assert found_in(log_text.encode(), wanted) == []
