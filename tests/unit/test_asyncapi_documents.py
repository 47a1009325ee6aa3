"""The AsyncAPI documents under docs/asyncapi: what the code generates now, and well-formed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from typer.testing import CliRunner

from caseline.asyncapi import documents, service_document
from caseline.catalog import runnable_services
from caseline.cli import app
from services.intake.contract import CaseFound
from shared.chain import GENESIS_HASH
from shared.codec import header_map, to_kafka
from shared.store import StoredEvent

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"
SERVICES = runnable_services()
KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9\.\-_]+$")


def test_the_checked_in_documents_are_what_the_command_generates_now() -> None:
    generated = documents()
    assert sorted(path.name for path in DOCS.glob("*.json")) == sorted(generated)
    for name, text in generated.items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, (
            f"docs/asyncapi/{name} drifted from the code: run `caseline asyncapi`"
        )


def _pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize("service", SERVICES)
def test_each_document_is_a_well_formed_asyncapi_3_document(service: str) -> None:
    document = service_document(service)
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["channels"] and document["operations"] and document["components"]["messages"]
    # FastStream's own model of an AsyncAPI 3.0.0 document reads it.
    ApplicationSchema.model_validate(document)
    for ref in _refs(document):
        _pointer(document, ref)  # every reference resolves inside the document
    for key, channel in document["channels"].items():
        assert KEY.match(key) and channel["address"].startswith("caseline.")
    for key, operation in document["operations"].items():
        assert KEY.match(key) and operation["action"] in ("send", "receive")
        channel_ref = operation["channel"]["$ref"]
        # AsyncAPI 3: an operation's messages are messages of its channel.
        assert all(m["$ref"].startswith(f"{channel_ref}/messages/") for m in operation["messages"])
    for key, message in document["components"]["messages"].items():
        assert COMPONENT_KEY.match(key)
        assert message["contentType"] == "application/json"
        Draft202012Validator.check_schema(message["payload"])
        Draft202012Validator.check_schema(message["headers"])
    for key, schema in document["components"]["schemas"].items():
        assert COMPONENT_KEY.match(key)
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_sends_every_event_of_its_contract_on_its_own_topic(service: str) -> None:
    import importlib

    published = importlib.import_module(f"services.{service}.contract").PUBLISHED
    document = service_document(service)
    send = document["operations"]["publish"]
    assert send["action"] == "send"
    assert _pointer(document, send["channel"]["$ref"])["address"] == f"caseline.{service}.v1"
    sent = [_pointer(document, m["$ref"]) for m in send["messages"]]
    assert [_pointer(document, m["$ref"])["name"] for m in sent] == [
        cls.event_type() for cls in published
    ]


def test_careplan_documents_what_each_of_its_consumers_reads() -> None:
    operations = service_document("careplan")["operations"]
    revisions = operations["revisions-reads-monitoring"]
    assert revisions["action"] == "receive"
    assert revisions["messages"] == [
        {"$ref": "#/channels/monitoring/messages/PlanRevisionRequired"}
    ]
    assert operations["vault-erasure-reads-intake"]["messages"] == [
        {"$ref": "#/channels/intake/messages/ClientErased"}
    ]


def test_a_message_the_codec_writes_matches_its_documented_headers_and_payload() -> None:
    document = service_document("intake")
    payload = CaseFound(source="walk_in").model_dump(mode="json")
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC).isoformat()
    stored = StoredEvent(
        position=7,
        case_id="case-7",
        stream_version=1,
        event_id=uuid.uuid4(),
        event_type="CaseFound",
        schema_version=1,
        payload=payload,
        metadata={
            "agency_id": "agency-seoul-1",
            "actor": {"staff_id": "staff-kim", "role": "case_manager"},
            "correlation_id": str(uuid.uuid4()),
            "causation_id": None,
            "occurred_at": now,
            "recorded_at": now,
        },
        previous_hash=GENESIS_HASH,
        hash=bytes(32),
    )
    record = to_kafka(stored, "intake")
    registry = Registry().with_resource(
        "urn:caseline:intake", Resource.from_contents(document, DRAFT202012)
    )
    message = "urn:caseline:intake#/components/messages/intake.CaseFound"
    headers = Draft202012Validator({"$ref": f"{message}/headers"}, registry=registry)
    body = Draft202012Validator({"$ref": f"{message}/payload"}, registry=registry)
    assert list(headers.iter_errors(header_map(record.headers))) == []
    assert list(body.iter_errors(payload)) == []
    # Another event's type is not this message.
    wrong = {**header_map(record.headers), "ce_type": "caseline.intake.CaseAssigned.v1"}
    assert list(headers.iter_errors(wrong)) != []


def test_the_command_writes_the_documents_and_its_check_names_one_that_drifted(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    written = runner.invoke(app, ["asyncapi", "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}.json" for s in SERVICES)
    assert runner.invoke(app, ["asyncapi", "--out", str(tmp_path), "--check"]).exit_code == 0

    (tmp_path / "intake.json").write_text("{}\n", encoding="utf-8")
    drifted = runner.invoke(app, ["asyncapi", "--out", str(tmp_path), "--check"])
    assert drifted.exit_code == 1
    assert "intake.json" in drifted.output and "careplan.json" not in drifted.output
