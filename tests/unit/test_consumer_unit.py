"""The idempotent consumer's pure parts: DLQ headers, lenient header reading, backoff, parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser

from shared.codec import MalformedMessage
from shared.consumer import (
    DeadLetterHeader,
    IncomingMessage,
    Outcome,
    ProcessingRejected,
    dead_letter_headers,
    error_name,
    failure_reason,
    faststream_can_parse,
    parse_keeping_every_message,
)
from shared.envelope import rfc3339
from shared.errors import CaselineError

ORIGINAL_HEADERS: tuple[tuple[str, bytes | None], ...] = (
    ("ce_specversion", b"1.0"),
    ("ce_id", b"0f8e2c1a-0000-4000-8000-000000000001"),
    ("x-trace", b"\xff\xfe"),
    ("x-repeated", b"1"),
    ("x-repeated", b"2"),
    ("x-null", None),
)


def message(**changes: Any) -> IncomingMessage:
    fields: dict[str, Any] = {
        "topic": "caseline.intake.v1",
        "partition": 2,
        "offset": 41,
        "key": b"case-7",
        "value": b"\x00not json",
        "headers": ORIGINAL_HEADERS,
    }
    fields.update(changes)
    return IncomingMessage(**fields)


def record(headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="caseline.intake.v1",
        partition=1,
        offset=9,
        timestamp=1_700_000_000_000,
        timestamp_type=0,
        key=b"case-7",
        value=b'{"note": "hi"}',
        checksum=None,
        serialized_key_size=6,
        serialized_value_size=14,
        headers=headers,
    )


def test_dead_letter_headers_keep_every_original_header_first_and_in_order() -> None:
    at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=9)))
    headers = dead_letter_headers(
        message(), MalformedMessage("the value is not JSON"), consumer="closure", at=at
    )

    assert tuple(headers[: len(ORIGINAL_HEADERS)]) == ORIGINAL_HEADERS
    assert dict(headers[len(ORIGINAL_HEADERS) :]) == {
        "caseline-dlq-reason": b"the value is not JSON",
        "caseline-dlq-error": b"shared.codec.MalformedMessage",
        "caseline-dlq-consumer": b"closure",
        "caseline-dlq-topic": b"caseline.intake.v1",
        "caseline-dlq-partition": b"2",
        "caseline-dlq-offset": b"41",
        "caseline-dlq-at": b"2026-03-01T00:30:00Z",
    }


def test_the_dead_letter_header_names_are_the_documented_ones() -> None:
    assert [h.value for h in DeadLetterHeader] == [
        "caseline-dlq-reason",
        "caseline-dlq-error",
        "caseline-dlq-consumer",
        "caseline-dlq-topic",
        "caseline-dlq-partition",
        "caseline-dlq-offset",
        "caseline-dlq-at",
    ]


def test_the_outcomes_read_as_words() -> None:
    assert [o.value for o in Outcome] == [
        "processed",
        "duplicate",
        "passed-over",
        "dead-lettered",
        "redeliver",
    ]


def test_a_handler_refusal_is_a_caseline_error() -> None:
    assert issubclass(ProcessingRejected, CaselineError)


def test_the_reason_is_the_error_text_or_else_its_class_name() -> None:
    assert failure_reason(ProcessingRejected("case closed")) == "case closed"
    assert failure_reason(ProcessingRejected()) == "ProcessingRejected"


def test_a_huge_reason_is_cut_short() -> None:
    reason = failure_reason(ProcessingRejected("x" * 10_000))
    assert len(reason) == 2000 and reason.endswith("…")


def test_the_error_name_is_module_qualified() -> None:
    assert error_name(ProcessingRejected()) == "shared.consumer.ProcessingRejected"
    assert error_name(ValueError()) == "builtins.ValueError"


def test_times_are_written_in_utc_with_a_z() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006Z"


def test_a_header_reads_as_text_the_last_one_winning_and_unreadable_ones_as_none() -> None:
    m = message()
    assert m.header("ce_specversion") == "1.0"
    assert m.header("x-repeated") == "2"
    assert m.header("x-trace") is None
    assert m.header("x-null") is None
    assert m.header("absent") is None


def test_an_incoming_message_takes_the_record_as_it_is() -> None:
    m = IncomingMessage.from_record(record([("ce_id", b"1"), ("x-trace", b"\xff")]))
    assert m == IncomingMessage(
        topic="caseline.intake.v1",
        partition=1,
        offset=9,
        key=b"case-7",
        value=b'{"note": "hi"}',
        headers=(("ce_id", b"1"), ("x-trace", b"\xff")),
    )
    assert m.where() == "caseline.intake.v1/1@9"


def test_faststream_can_parse_only_utf8_header_values() -> None:
    assert faststream_can_parse([("a", b"text"), ("b", "ü".encode())])
    assert not faststream_can_parse([("a", b"\xff")])
    assert not faststream_can_parse([("a", None)])


async def test_a_message_with_binary_headers_still_parses_with_its_record_intact() -> None:
    faststream_parser = AioKafkaParser(msg_class=KafkaMessage, regex=None)
    original = record([("content-type", b"application/json"), ("x-trace", b"\xff\xfe")])
    with pytest.raises(UnicodeDecodeError):
        await faststream_parser.parse_message(original)

    parsed = await parse_keeping_every_message(original, faststream_parser.parse_message)

    assert parsed.raw_message is original
    assert parsed.headers == {"content-type": "application/json"}
    assert parsed.body == b'{"note": "hi"}'


async def test_readable_messages_go_through_faststreams_parser_unchanged() -> None:
    faststream_parser = AioKafkaParser(msg_class=KafkaMessage, regex=None)
    original = record([("ce_id", b"1")])
    parsed = await parse_keeping_every_message(original, faststream_parser.parse_message)
    assert parsed.raw_message is original and parsed.headers == {"ce_id": "1"}


def test_a_consumer_spec_takes_a_handler_or_a_binding_to_the_ports_never_both() -> None:
    from shared.service import ConsumerSpec

    async def handle(conn: object, event: object) -> None:
        return None

    bound = ConsumerSpec("policy", ("t",), bind=lambda ports: handle)
    assert bound.handler(object()) is handle
    assert ConsumerSpec("model", ("t",), handle).handler(None) is handle
    with pytest.raises(ValueError, match="exactly one"):
        ConsumerSpec("neither", ("t",))
    with pytest.raises(ValueError, match="exactly one"):
        ConsumerSpec("both", ("t",), handle, bind=lambda ports: handle)
