"""The vault: what a service keeps about a person, sealed under a per-client key of its own.

Events carry ids and codes; the words about a person (a client's details, a goal's wording,
notes, an informal helper's name, form answers) live here, in the service's own schema:

- `vault_keys`: one data key per client, wrapped under the service's key-encryption key
  (`CASELINE_PII_KEK`). Shredding a client sets it to NULL: every document of theirs is
  noise from then on, and a later `put` for them is refused.
- `vault_documents`: sealed JSON documents under (client id, document id), a document id
  being `kind` or `kind:id` (`details`, `goal:g-17`).
- `vault_access_log`: one row for every read, allowed or refused: when, which service, who
  (staff id, role, agency), whose (the pseudonymous client id), which document, the outcome
  and its basis (the reader's agency holds a case; or the consent, by id, that names it).
  Ids and codes only: it holds no personal data, and rows are never changed or deleted.

Writes and reads take the caller's connection, so a document is written in the same
transaction as the events that name it, and a read's log row in the same transaction as the
read. A refused read writes its row and opens nothing: the caller answers after, so a
caller in a transaction must let it commit (or read outside one) for the refusal to stay.
Tables are unqualified: the service's pool has its schema on the search path.

Nothing here logs or raises with a document's content in the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict

from shared.codec import ReceivedEvent
from shared.consumer import EventHandler
from shared.envelope import DomainEvent
from shared.grants import AccessDecision, Accessor
from shared.logging import get_logger
from shared.settings import Settings, decode_key
from shared.store import migrate_schema, quote_schema
from shared.vault_crypto import VaultCipher, VaultError, document_kind

__all__ = [
    "AccessDecision",
    "AccessLogEntry",
    "Accessor",
    "ClientShredded",
    "UnknownDocument",
    "Vault",
    "VaultError",
    "VaultRead",
]

log = get_logger("caseline.vault")

MIGRATION = """
CREATE TABLE IF NOT EXISTS {s}.vault_keys (
    client_id    text        PRIMARY KEY,
    kek_id       text        NOT NULL,
    -- The client's data key sealed under the key-encryption key; NULL once shredded.
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    shredded_at  timestamptz,
    CONSTRAINT vault_keys_shredded_has_no_key
        CHECK ((shredded_at IS NULL) = (wrapped_key IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS {s}.vault_documents (
    client_id    text        NOT NULL REFERENCES {s}.vault_keys (client_id),
    document_id  text        NOT NULL,
    kind         text        NOT NULL,
    -- Nonce and AES-GCM ciphertext of one JSON document under the client's data key.
    sealed       bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, document_id)
);
CREATE TABLE IF NOT EXISTS {s}.vault_access_log (
    entry_id      bigserial   PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    service       text        NOT NULL,
    staff_id      text        NOT NULL,
    role          text        NOT NULL,
    agency_id     text        NOT NULL,
    client_id     text        NOT NULL,
    document_id   text        NOT NULL,
    document_kind text        NOT NULL,
    allowed       boolean     NOT NULL,
    outcome       text        NOT NULL
        CHECK (outcome IN ('opened', 'shredded', 'absent', 'refused')),
    basis         text        NOT NULL,
    consent_id    text,
    purpose       text,
    CHECK (allowed = (outcome <> 'refused'))
);
CREATE INDEX IF NOT EXISTS vault_access_log_by_client ON {s}.vault_access_log (client_id, at);
CREATE INDEX IF NOT EXISTS vault_access_log_by_time ON {s}.vault_access_log (at);
CREATE OR REPLACE FUNCTION {s}.refuse_access_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the vault access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE OR REPLACE TRIGGER vault_access_log_refuse_update_delete
    BEFORE UPDATE OR DELETE ON {s}.vault_access_log
    FOR EACH ROW EXECUTE FUNCTION {s}.refuse_access_log_change();
CREATE OR REPLACE TRIGGER vault_access_log_refuse_truncate
    BEFORE TRUNCATE ON {s}.vault_access_log
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_access_log_change();
"""

ACCESS_LOG_LIMIT = 1000
"""At most this many access-log rows in one answer."""


class ClientShredded(VaultError):
    """The client's key was destroyed: nothing more is kept about them."""


class UnknownDocument(VaultError):
    """The vault holds no such document of the client."""


@dataclass(frozen=True)
class VaultRead:
    """What a read found: the document, or why there is none."""

    client_id: str
    document_id: str
    allowed: bool
    document: dict[str, Any] | None
    outcome: str
    """`opened`, `shredded` (the key is gone), `absent` (no such document) or `refused`."""
    shredded_at: datetime | None = None

    @property
    def shredded(self) -> bool:
        """Whether the client's key was destroyed."""
        return self.outcome == "shredded"


class AccessLogEntry(BaseModel):
    """One row of the access log, as auditors read it: who, whose, which document, when,
    allowed or not, on what basis; ids and codes only."""

    model_config = ConfigDict(frozen=True)

    entry_id: int
    at: datetime
    service: str
    staff_id: str
    role: str
    agency_id: str
    client_id: str
    document_id: str
    document_kind: str
    allowed: bool
    outcome: str
    basis: str
    consent_id: str | None
    purpose: str | None


def _as_json(document: BaseModel | Mapping[str, Any]) -> bytes:
    if isinstance(document, BaseModel):
        return document.model_dump_json().encode()
    return json.dumps(dict(document), ensure_ascii=False, separators=(",", ":")).encode()


class Vault:
    """One service's sealed documents about clients, per-client keys, and the access log."""

    def __init__(self, cipher: VaultCipher, service: str) -> None:
        self.cipher = cipher
        self.service = service

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> Vault:
        """The vault of `service` under the key-encryption key the settings carry."""
        return cls(VaultCipher(decode_key(settings.pii_kek), service=service), service)

    def __repr__(self) -> str:
        return f"Vault(service={self.service!r}, kek_id={self.cipher.kek_id!r})"

    @staticmethod
    async def migrate(pool: asyncpg.Pool, schema: str) -> None:
        """Create the vault's tables in `schema` (idempotent)."""
        await migrate_schema(pool, schema, MIGRATION.format(s=quote_schema(schema)))

    # --- writing ------------------------------------------------------------------------------

    async def _data_key(self, conn: asyncpg.Connection, client_id: str, *, create: bool) -> bytes:
        """The client's data key, held FOR SHARE until the transaction ends (a shred waits)."""
        if create:
            await conn.execute(
                "INSERT INTO vault_keys (client_id, kek_id, wrapped_key) VALUES ($1, $2, $3) "
                "ON CONFLICT (client_id) DO NOTHING",
                client_id,
                self.cipher.kek_id,
                self.cipher.wrap_key(self.cipher.new_data_key(), client_id),
            )
        row = await conn.fetchrow(
            "SELECT wrapped_key FROM vault_keys WHERE client_id = $1 FOR SHARE", client_id
        )
        if row is None:
            raise UnknownDocument(f"the vault holds nothing of client {client_id!r}")
        if row["wrapped_key"] is None:
            raise ClientShredded(f"client {client_id!r} was erased: nothing more is kept")
        return self.cipher.unwrap_key(bytes(row["wrapped_key"]), client_id)

    async def put(
        self,
        conn: asyncpg.Connection,
        client_id: str,
        document_id: str,
        document: BaseModel | Mapping[str, Any],
    ) -> None:
        """Seal a document (new or replacing one) under the client's key, made on first use.

        `ClientShredded` once the client was erased: nothing new is kept about them.
        """
        kind = document_kind(document_id)
        data_key = await self._data_key(conn, client_id, create=True)
        await conn.execute(
            "INSERT INTO vault_documents (client_id, document_id, kind, sealed) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, document_id) DO UPDATE "
            "SET sealed = EXCLUDED.sealed, updated_at = now()",
            client_id,
            document_id,
            kind,
            self.cipher.seal(data_key, client_id, document_id, _as_json(document)),
        )

    async def update(
        self,
        conn: asyncpg.Connection,
        client_id: str,
        document_id: str,
        document: BaseModel | Mapping[str, Any],
    ) -> None:
        """Reseal an existing document; `UnknownDocument` if there is none to update."""
        document_kind(document_id)
        data_key = await self._data_key(conn, client_id, create=False)
        updated = await conn.fetchval(
            "UPDATE vault_documents SET sealed = $3, updated_at = now() "
            "WHERE client_id = $1 AND document_id = $2 RETURNING true",
            client_id,
            document_id,
            self.cipher.seal(data_key, client_id, document_id, _as_json(document)),
        )
        if not updated:
            raise UnknownDocument(f"client {client_id!r} has no {document_id!r} document")

    async def shred(self, conn: asyncpg.Connection, client_id: str) -> bool:
        """Destroy the client's key (crypto-shredding); False when it was already gone.

        The sealed documents stay: without the key they are noise. A client the vault never
        held gets a key row without a key, so nothing can be kept about them afterwards
        (an erasure may arrive before a late document).
        """
        shredded = await conn.fetchval(
            "INSERT INTO vault_keys (client_id, kek_id, wrapped_key, shredded_at) "
            "VALUES ($1, $2, NULL, now()) ON CONFLICT (client_id) DO UPDATE "
            "SET wrapped_key = NULL, shredded_at = now() "
            "WHERE vault_keys.shredded_at IS NULL RETURNING true",
            client_id,
            self.cipher.kek_id,
        )
        if shredded:
            log.info("vault.shredded", service=self.service, client_id=client_id)
        return bool(shredded)

    def erasure_handler(self, erasure_event: type[DomainEvent]) -> EventHandler:
        """A consumer handler that shreds the client an erasure event names (`client_id`)."""
        if "client_id" not in erasure_event.model_fields:
            raise TypeError(f"{erasure_event.__name__} names no client_id to shred")

        async def shred_erased_client(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
            client_id = getattr(event.envelope.payload, "client_id", None)
            if isinstance(client_id, str) and client_id:
                await self.shred(conn, client_id)

        return shred_erased_client

    # --- reading ------------------------------------------------------------------------------

    async def read(
        self,
        conn: asyncpg.Connection,
        accessor: Accessor,
        client_id: str,
        document_id: str,
        decision: AccessDecision,
    ) -> VaultRead:
        """Open one document if `decision` allows it; log the read either way.

        A refused read opens nothing and reads no row: its log row is the only trace.
        """
        kind = document_kind(document_id)
        found: dict[str, Any] | None = None
        shredded_at: datetime | None = None
        if not decision.allowed:
            outcome = "refused"
        else:
            row = await conn.fetchrow(
                "SELECT k.wrapped_key, k.shredded_at, d.sealed FROM vault_keys k "
                "LEFT JOIN vault_documents d "
                "ON d.client_id = k.client_id AND d.document_id = $2 WHERE k.client_id = $1",
                client_id,
                document_id,
            )
            if row is None or (row["sealed"] is None and row["shredded_at"] is None):
                outcome = "absent"
            elif row["wrapped_key"] is None:
                outcome, shredded_at = "shredded", row["shredded_at"]
            else:
                data_key = self.cipher.unwrap_key(bytes(row["wrapped_key"]), client_id)
                opened = self.cipher.open(data_key, client_id, document_id, bytes(row["sealed"]))
                found, outcome = json.loads(opened), "opened"
        await conn.execute(
            "INSERT INTO vault_access_log (service, staff_id, role, agency_id, client_id, "
            "document_id, document_kind, allowed, outcome, basis, consent_id, purpose) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            self.service,
            accessor.staff_id,
            accessor.role,
            accessor.agency_id,
            client_id,
            document_id,
            kind,
            decision.allowed,
            outcome,
            decision.basis,
            decision.consent_id,
            decision.purpose,
        )
        return VaultRead(client_id, document_id, decision.allowed, found, outcome, shredded_at)

    async def is_shredded(self, conn: asyncpg.Connection, client_id: str) -> bool:
        """Whether the client's key was destroyed (no content is read)."""
        shredded_at = await conn.fetchval(
            "SELECT shredded_at FROM vault_keys WHERE client_id = $1", client_id
        )
        return shredded_at is not None

    @staticmethod
    async def access_log(
        conn: asyncpg.Connection,
        *,
        client_id: str | None = None,
        since: datetime | None = None,
        limit: int = ACCESS_LOG_LIMIT,
    ) -> list[AccessLogEntry]:
        """The access log, oldest first: of one client, and/or from a time on."""
        rows = await conn.fetch(
            "SELECT entry_id, at, service, staff_id, role, agency_id, client_id, document_id, "
            "document_kind, allowed, outcome, basis, consent_id, purpose FROM vault_access_log "
            "WHERE ($1::text IS NULL OR client_id = $1) AND ($2::timestamptz IS NULL OR at >= $2) "
            "ORDER BY at, entry_id LIMIT $3",
            client_id,
            since,
            min(limit, ACCESS_LOG_LIMIT),
        )
        return [AccessLogEntry(**dict(r)) for r in rows]
