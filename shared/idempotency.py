"""`Idempotency-Key`: a command retried after a lost answer is recorded once, answered twice.

A client that sends a command and loses the answer (a dropped connection, a service killed
mid-request, a timeout) cannot know whether it was recorded. Sending it again could record
it twice or be refused by a rule it already satisfied. With an `Idempotency-Key` header
(any text of 1-200 visible ASCII characters the client chooses, one per command) the
service records the key in the same transaction as the command's events:

- a retry with the same key, the same caller and the same request gets the first answer
  back (status and body), with `Idempotent-Replayed: true`, and records nothing;
- the same key on a different request is refused 422, nothing written;
- two copies of the request racing each other record once; the loser waits for the
  winner's answer;
- when the service stopped between the commit and keeping the answer (a window of a few
  milliseconds), the retry gets 409 `answer_lost` with the stream and event ids recorded.

A request that recorded nothing (refused, invalid, a query) keeps no key: a retry runs
again. Every answer to a command that recorded events carries `Caseline-Recorded-Events`,
the ids of those events, so a client or an auditor can find them in the store, on Kafka
and in the projections. Keys are per caller (agency and staff id of the token) and kept
for `KEEP_DAYS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared.auth import verify_token
from shared.errors import AuthError, CaselineError
from shared.guards import ASGIApp, Message, Receive, Scope, Send, header, json_answer
from shared.logging import get_logger
from shared.settings import Settings
from shared.store import migrate_schema, quote_schema
from shared.supervisor import describe_error, is_outage

HEADER = b"idempotency-key"
REPLAYED = b"idempotent-replayed"
RECORDED_EVENTS = b"caseline-recorded-events"
MAX_KEY_LENGTH = 200
KEEP_DAYS = 7
"""How long a key's answer is kept: far longer than any client retries."""
WAIT_FOR_WINNER_SECONDS = 5.0
"""How long a request that lost the race for its key waits for the winner's answer."""
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

log = get_logger("caseline.idempotency")


def migration(schema: str) -> str:
    """The table of kept keys in a service's schema."""
    s = quote_schema(schema)
    return f"""
CREATE TABLE IF NOT EXISTS {s}.answered_requests (
    caller        text        NOT NULL,
    key           text        NOT NULL,
    fingerprint   text        NOT NULL,
    request_id    uuid        NOT NULL,
    stream_id     text        NOT NULL,
    event_ids     uuid[]      NOT NULL,
    status        integer,
    content_type  text,
    body          bytea,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
CREATE INDEX IF NOT EXISTS answered_requests_recorded_at
    ON {s}.answered_requests (recorded_at);
"""


async def migrate(pool: asyncpg.Pool, schema: str) -> None:
    """Create the kept-keys table (idempotent)."""
    await migrate_schema(pool, schema, migration(schema))


class RequestAlreadyRecorded(CaselineError):
    """Another request with the same caller and key was recorded first: roll this one back."""


@dataclass
class PendingRequest:
    """The command request being served: its key (if any) and the events it recorded."""

    caller: str
    key: str | None
    fingerprint: str
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    event_ids: list[uuid.UUID] = field(default_factory=list)
    claimed: bool = False
    superseded: bool = False


_current: ContextVar[PendingRequest | None] = ContextVar("caseline_request", default=None)


async def record_claim(
    conn: asyncpg.Connection, schema: str, stream_id: str, event_ids: list[uuid.UUID]
) -> None:
    """In a command's transaction: note the events it recorded for the request being served,
    and claim the request's key; raises `RequestAlreadyRecorded` when another request with
    the key was recorded first (the transaction must then roll back)."""
    pending = _current.get()
    if pending is None:
        return
    pending.event_ids.extend(event_ids)
    if pending.key is None:
        return
    s = quote_schema(schema)
    holder = await conn.fetchval(
        f"INSERT INTO {s}.answered_requests "
        "(caller, key, fingerprint, request_id, stream_id, event_ids) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (caller, key) DO NOTHING "
        "RETURNING request_id",
        pending.caller,
        pending.key,
        pending.fingerprint,
        pending.request_id,
        stream_id,
        event_ids,
    )
    if holder is None:
        # Either this request's own earlier transaction (a route that writes twice) or
        # another request with the same key, which then wins.
        holder = await conn.fetchval(
            f"SELECT request_id FROM {s}.answered_requests WHERE caller = $1 AND key = $2",
            pending.caller,
            pending.key,
        )
        if holder != pending.request_id:
            pending.superseded = True
            raise RequestAlreadyRecorded("a request with this Idempotency-Key was recorded first")
        await conn.execute(
            f"UPDATE {s}.answered_requests SET event_ids = event_ids || $3::uuid[] "
            "WHERE caller = $1 AND key = $2",
            pending.caller,
            pending.key,
            event_ids,
        )
    pending.claimed = True


def _valid_key(raw: bytes) -> str | None:
    try:
        key = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        return None
    return key


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _receive_once(body: bytes, then: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


class IdempotentRequests:
    """ASGI middleware: keeps the answers of keyed commands and names the events recorded.

    It sits inside `RequestGuard`, so the caller is authenticated and the body bounded
    before it reads either.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _MUTATING:
            await self.app(scope, receive, send)
            return
        raw_key = header(scope, HEADER)
        key = None if raw_key is None else _valid_key(raw_key)
        if raw_key is not None and key is None:
            await json_answer(
                send,
                400,
                {"detail": f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} visible ASCII characters"},
                [],
            )
            return
        caller = self._caller(scope)
        if key is None or caller is None:
            await self._serve(PendingRequest(caller or "", None, ""), scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = hashlib.sha256(
            b"\n".join(
                [scope["method"].encode(), scope.get("raw_path") or b"", scope["query_string"]]
            )
            + b"\n"
            + body
        ).hexdigest()
        runtime = scope["app"].state.runtime
        pool: asyncpg.Pool = runtime.pool
        table = f"{quote_schema(runtime.schema)}.answered_requests"
        try:
            await self._forget_old(pool, table)
            kept = await self._kept(pool, table, caller, key)
        except Exception as error:
            if not is_outage(error):
                raise
            await self._unavailable(send, error)
            return
        if kept is not None:
            await self._answer_kept(send, kept, fingerprint)
            return
        pending = PendingRequest(caller, key, fingerprint)
        response = await self._serve(pending, scope, _receive_once(body, receive), None)
        try:
            kept = await self._settle(pool, table, pending, response)
        except Exception as error:
            if not is_outage(error):
                raise
            # The command's own answer stands; only keeping it failed (a retry then hears
            # `answer_lost` if the command was recorded).
            log.warning("request.answer_not_kept", error=describe_error(error))
            kept = None
        if kept is not None:
            await self._answer_kept(send, kept, fingerprint)
            return
        for message in response:
            await send(message)

    async def _settle(
        self, pool: asyncpg.Pool, table: str, pending: PendingRequest, response: list[Message]
    ) -> Any:
        """Keep a recorded command's answer; for a request that lost to a copy of itself,
        the copy's kept answer (None: send this request's own)."""
        status = response[0]["status"]
        if pending.superseded or (not pending.claimed and not 200 <= status < 300):
            # A copy of this request may have been recorded meanwhile (it then won the race
            # for the stream or the key): answer as it was answered.
            return await self._wait_for_winner(pool, table, pending.caller, str(pending.key))
        if pending.claimed and 200 <= status < 300:
            content_type = header(response[0], b"content-type")
            await pool.execute(
                f"UPDATE {table} SET status = $4, content_type = $5, body = $6 "
                "WHERE caller = $1 AND key = $2 AND request_id = $3",
                pending.caller,
                pending.key,
                pending.request_id,
                status,
                None if content_type is None else content_type.decode("latin-1"),
                b"".join(m.get("body", b"") for m in response[1:]),
            )
        return None

    async def _unavailable(self, send: Send, error: BaseException) -> None:
        log.warning("request.unavailable", error=describe_error(error))
        retry_after = str(self.settings.retry_after_seconds).encode()
        await json_answer(
            send,
            503,
            {
                "detail": "the service cannot reach its database or broker just now; "
                "nothing was written, retry later"
            },
            [(b"retry-after", retry_after)],
        )

    def _caller(self, scope: Scope) -> str | None:
        raw = header(scope, b"authorization")
        if raw is None:
            return None
        _, _, token = raw.decode("latin-1").partition(" ")
        try:
            principal = verify_token(self.settings, token.strip())
        except AuthError:
            return None
        return f"{principal.agency_id}/{principal.staff_id}"

    async def _serve(
        self, pending: PendingRequest, scope: Scope, receive: Receive, send: Send | None
    ) -> list[Message]:
        """Run the app for one request; with `send`, pass the answer on as it comes (adding
        the recorded events' ids), else keep it and return it."""
        kept: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start" and pending.event_ids:
                ids = ",".join(str(i) for i in pending.event_ids)
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (RECORDED_EVENTS, ids.encode())],
                }
            if send is None:
                kept.append(message)
            else:
                await send(message)

        token = _current.set(pending)
        try:
            await self.app(scope, receive, capture)
        finally:
            _current.reset(token)
        return kept

    @staticmethod
    async def _kept(pool: asyncpg.Pool, table: str, caller: str, key: str) -> Any:
        return await pool.fetchrow(
            f"SELECT fingerprint, stream_id, event_ids, status, content_type, body "
            f"FROM {table} WHERE caller = $1 AND key = $2",
            caller,
            key,
        )

    async def _wait_for_winner(self, pool: asyncpg.Pool, table: str, caller: str, key: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_FOR_WINNER_SECONDS
        kept = await self._kept(pool, table, caller, key)
        while kept is not None and kept["status"] is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
            kept = await self._kept(pool, table, caller, key)
        return kept

    @staticmethod
    async def _answer_kept(send: Send, kept: Any, fingerprint: str) -> None:
        if kept["fingerprint"] != fingerprint:
            await json_answer(
                send,
                422,
                {
                    "detail": "this Idempotency-Key was used for a different request; "
                    "use a new key for a new command",
                    "code": "idempotency_key_reused",
                },
                [],
            )
            return
        ids = ",".join(str(i) for i in kept["event_ids"]).encode()
        if kept["status"] is None:
            await json_answer(
                send,
                409,
                {
                    "detail": "this request was recorded, but the service stopped before it "
                    "kept the answer; read the resource to see the result",
                    "code": "answer_lost",
                    "stream_id": kept["stream_id"],
                    "recorded_events": [str(i) for i in kept["event_ids"]],
                },
                [(RECORDED_EVENTS, ids)],
            )
            return
        headers = [
            (b"content-length", str(len(kept["body"] or b"")).encode()),
            (REPLAYED, b"true"),
            (RECORDED_EVENTS, ids),
        ]
        if kept["content_type"] is not None:
            headers.append((b"content-type", kept["content_type"].encode("latin-1")))
        await send({"type": "http.response.start", "status": kept["status"], "headers": headers})
        await send({"type": "http.response.body", "body": kept["body"] or b""})

    async def _forget_old(self, pool: asyncpg.Pool, table: str) -> None:
        """Now and then, drop keys older than `KEEP_DAYS` (bounded work per request)."""
        self._served += 1
        if self._served % 500 != 1:
            return
        await pool.execute(
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
            f"WHERE recorded_at < now() - make_interval(days => $1) LIMIT 1000))",
            KEEP_DAYS,
        )
