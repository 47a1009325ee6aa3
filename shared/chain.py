"""Per-case hash chain: canonical bytes of an event and the SHA-256 link to its predecessor."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = bytes(32)
"""The `previous_hash` of the first event of every stream."""


def _normalise(value: Any) -> Any:
    # jsonb gives an integral float back as an int (1.0e20 -> 100000000000000000000), so both
    # sides of the hash must spell such numbers the same way.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {k: _normalise(v) for k, v in value.items()}
    if kind is list:
        return [_normalise(v) for v in value]
    return value


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""Built once: `json.dumps` with these options builds the same encoder on every call."""


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8, integral floats as ints."""
    return _CANONICAL.encode(_normalise(value)).encode("utf-8")


def event_hash(
    *,
    previous_hash: bytes,
    case_id: str,
    stream_version: int,
    event_id: str,
    event_type: str,
    schema_version: int,
    payload: dict[str, Any],
    metadata: dict[str, Any],
) -> bytes:
    """SHA-256 over the previous hash and the canonical bytes of one event."""
    return encoded_event_hash(
        previous_hash=previous_hash,
        case_id=case_id,
        stream_version=stream_version,
        event_id=event_id,
        event_type=event_type,
        schema_version=schema_version,
        payload_json=canonical_json(payload),
        metadata_json=canonical_json(metadata),
    )


def encoded_event_hash(
    *,
    previous_hash: bytes,
    case_id: str,
    stream_version: int,
    event_id: str,
    event_type: str,
    schema_version: int,
    payload_json: bytes,
    metadata_json: bytes,
) -> bytes:
    """The same hash from payload and metadata already in canonical bytes, so a writer that
    stores those bytes encodes each document once; the keys are spelled in sorted order."""
    body = b"".join(
        (
            b'{"case_id":',
            canonical_json(case_id),
            b',"event_id":',
            canonical_json(event_id),
            b',"event_type":',
            canonical_json(event_type),
            b',"metadata":',
            metadata_json,
            b',"payload":',
            payload_json,
            b',"schema_version":',
            str(int(schema_version)).encode(),
            b',"stream_version":',
            str(int(stream_version)).encode(),
            b"}",
        )
    )
    return hashlib.sha256(previous_hash + body).digest()
