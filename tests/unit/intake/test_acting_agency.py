"""An event on a case names the case's agency; a network administrator's own agency is
recorded beside it (metadata, store document, CloudEvents headers). No I/O."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.application.ports import context_for
from services.intake.domain.events import ClientErased
from shared.auth import Principal
from shared.chain import GENESIS_HASH, event_hash
from shared.codec import from_kafka, to_kafka
from shared.envelope import Role, registry
from shared.store import StoredEvent, _metadata_document

CASE_AGENCY = "agency-mapo"
ADMIN = Principal(agency_id="network", staff_id="netadmin-1", role=Role.NETWORK_ADMIN)
SUPERVISOR = Principal(agency_id=CASE_AGENCY, staff_id="sup-1", role=Role.SUPERVISOR)
EARLIER_KEYS = {
    "agency_id",
    "actor",
    "correlation_id",
    "causation_id",
    "occurred_at",
    "recorded_at",
}


def _stored_erasure(principal: Principal) -> StoredEvent:
    envelope = context_for(principal, CASE_AGENCY).envelope("case-1", ClientErased(client_id="c-1"))
    metadata = _metadata_document(
        envelope.metadata.model_copy(update={"recorded_at": datetime(2026, 3, 2, tzinfo=UTC)})
    )
    fields = {
        "case_id": "case-1",
        "stream_version": 9,
        "event_id": str(envelope.metadata.event_id),
        "event_type": "ClientErased",
        "schema_version": 1,
        "payload": {"client_id": "c-1"},
        "metadata": metadata,
    }
    return StoredEvent(
        position=42,
        previous_hash=GENESIS_HASH,
        hash=event_hash(previous_hash=GENESIS_HASH, **fields),  # type: ignore[arg-type]
        **{**fields, "event_id": envelope.metadata.event_id},
    )


def test_r11_a_network_admins_erasure_names_the_cases_agency_and_records_their_own_beside_it() -> (
    None
):
    stored = _stored_erasure(ADMIN)
    assert stored.metadata["agency_id"] == CASE_AGENCY
    assert stored.metadata["acting_agency_id"] == "network"
    assert stored.expected_hash() == stored.hash
    headers = dict(to_kafka(stored, "intake").headers)
    assert headers["ce_source"] == b"/agencies/agency-mapo/intake"
    assert headers["ce_agencyid"] == b"agency-mapo"
    assert headers["ce_actingagencyid"] == b"network"
    record = to_kafka(stored, "intake")
    received = from_kafka(record.value, record.headers, registry).envelope.metadata
    assert (received.agency_id, received.acting_agency_id) == (CASE_AGENCY, "network")
    assert stored.envelope_metadata().acting_agency_id == "network"


def test_an_event_by_the_cases_own_agency_has_the_metadata_document_it_always_had() -> None:
    """The key is written only when set, so the hashes of earlier events still verify."""
    stored = _stored_erasure(SUPERVISOR)
    assert set(stored.metadata) == EARLIER_KEYS
    headers = dict(to_kafka(stored, "intake").headers)
    assert "ce_actingagencyid" not in headers
    record = to_kafka(stored, "intake")
    assert (
        from_kafka(record.value, record.headers, registry).envelope.metadata.acting_agency_id
        is None
    )
    assert stored.envelope_metadata().acting_agency_id is None
