"""Putting the column-kept fields back into a stored metadata document."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.store import metadata_with_columns


def test_the_columns_are_merged_into_the_document_as_valid_json() -> None:
    event_id = uuid.uuid4()
    merged = metadata_with_columns('{"agency_id": "a", "actor": null}', event_id, 'c"1', 2)
    assert json.loads(merged) == {
        "event_id": str(event_id),
        "case_id": 'c"1',
        "schema_version": 2,
        "agency_id": "a",
        "actor": None,
    }


def test_an_empty_document_still_gives_an_object() -> None:
    merged = metadata_with_columns(" {} ", uuid.UUID(int=1), "c", 1)
    assert json.loads(merged)["case_id"] == "c"


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError):
        metadata_with_columns("[1, 2]", uuid.UUID(int=1), "c", 1)
