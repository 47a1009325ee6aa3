"""What every service checks before it reads a request body: who sends it, and how big it is.

FastAPI reads and parses the whole body before any route dependency runs, so a route's
authentication comes too late to protect the process: a 150 MB body with no token would be
read into memory first. `RequestGuard` sits in front of the app, as plain ASGI:

1. a request that carries a body and no bearer token that verifies is answered 401 before
   one byte of the body is read (the route checks the token again, and the role);
2. a body whose declared `Content-Length` is over the limit is answered 413 unread; a body
   sent without a length is read up to the limit and answered 413 as soon as it passes it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shared.auth import ISSUER, verify_token
from shared.errors import AuthError
from shared.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def json_answer(
    send: Send, status: int, content: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    """Answer a request from ASGI middleware with a JSON body and extra headers."""
    body = json.dumps(content, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    # The body was not read: the connection cannot carry another request.
    await json_answer(send, status, {"detail": detail}, [(b"connection", b"close"), *headers])


def header(scope: Scope, name: bytes) -> bytes | None:
    """The value of one request header (`name` in lower case), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            found: bytes = value
            return found
    return None


class RequestGuard:
    """ASGI middleware: authenticate before reading a body, refuse bodies over the limit."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limit = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._has_body(scope):
            await self.app(scope, receive, send)
            return
        refusal = self._unauthenticated(scope)
        if refusal is not None:
            await _answer(
                send, 401, refusal, [(b"www-authenticate", f'Bearer realm="{ISSUER}"'.encode())]
            )
            return
        declared = header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number", [])
                return
            if length > self.limit:
                await _answer(send, 413, self._too_large(), [])
                return
            await self.app(scope, receive, send)
            return
        await self._read_bounded(scope, receive, send)

    @staticmethod
    def _has_body(scope: Scope) -> bool:
        declared = header(scope, b"content-length")
        if declared is not None:
            return declared.strip() not in (b"", b"0")
        return header(scope, b"transfer-encoding") is not None

    def _unauthenticated(self, scope: Scope) -> str | None:
        raw = header(scope, b"authorization")
        if raw is None:
            return "missing bearer token (send 'Authorization: Bearer <token>')"
        scheme, _, token = raw.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing bearer token (send 'Authorization: Bearer <token>')"
        try:
            verify_token(self.settings, token.strip())
        except AuthError as error:
            return str(error)
        return None

    def _too_large(self) -> str:
        return f"the request body is larger than {self.limit} bytes"

    async def _read_bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No declared length (chunked): read at most the limit, then hand the app the body.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _answer(send, 413, self._too_large(), [])
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], then=receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
