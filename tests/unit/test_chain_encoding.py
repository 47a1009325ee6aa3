"""The chain hash from pre-encoded documents equals the hash of the whole event as it always was."""

from __future__ import annotations

import hashlib

from shared.chain import GENESIS_HASH, canonical_json, encoded_event_hash, event_hash


def _whole_event_hash(previous: bytes, fields: dict[str, object]) -> bytes:
    return hashlib.sha256(previous + canonical_json(fields)).digest()


def test_hashing_pre_encoded_documents_gives_the_hash_of_the_whole_event() -> None:
    payload = {"note": 'quote " back\\slash 이름 \u2028', "score": 1e20, "tags": [3.0, 0.5]}
    metadata = {"agency_id": "a", "actor": {"role": "manager", "staff_id": "s"}, "x": None}
    fields = {
        "case_id": 'case "7"',
        "stream_version": 12,
        "event_id": "0b6c5f0e-6f0e-4bd8-8a3a-9b1f1f1f1f1f",
        "event_type": "CaseNoted",
        "schema_version": 2,
        "payload": payload,
        "metadata": metadata,
    }
    previous = bytes(range(32))

    encoded = encoded_event_hash(
        previous_hash=previous,
        case_id='case "7"',
        stream_version=12,
        event_id="0b6c5f0e-6f0e-4bd8-8a3a-9b1f1f1f1f1f",
        event_type="CaseNoted",
        schema_version=2,
        payload_json=canonical_json(payload),
        metadata_json=canonical_json(metadata),
    )

    assert encoded == _whole_event_hash(previous, fields)
    assert encoded == event_hash(previous_hash=previous, **fields)  # type: ignore[arg-type]
    assert encoded != event_hash(previous_hash=GENESIS_HASH, **fields)  # type: ignore[arg-type]
