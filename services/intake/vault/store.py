"""The PII vault's table in PostgreSQL: one sealed document and one wrapped key per client.

Writes take the caller's connection, so a client's record is made in the same transaction
as the events that name them: a refused or raced registration leaves no record behind.
Tables are unqualified: the service's pool has its own schema on the search path.

Nothing here logs or raises with personal data in the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.intake.domain.client import PersonalDetails
from services.intake.vault.crypto import PiiCipher, VaultError
from shared.settings import Settings, decode_key

MIGRATION = """
CREATE TABLE IF NOT EXISTS pii_vault (
    client_id        text        PRIMARY KEY,
    agency_id        text        NOT NULL,
    kek_id           text        NOT NULL,
    -- The client's data key sealed under the key-encryption key; NULL once erased.
    wrapped_key      bytea,
    -- Nonce and AES-GCM ciphertext of the personal details, one JSON document.
    sealed           bytea       NOT NULL,
    -- HMAC-SHA256 of normalised name and birth date; NULL once erased.
    duplicate_index  bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    erased_at        timestamptz,
    CONSTRAINT pii_vault_erased_has_no_key CHECK (
        (erased_at IS NULL) = (wrapped_key IS NOT NULL)
        AND (erased_at IS NULL) = (duplicate_index IS NOT NULL)
    )
);
CREATE INDEX IF NOT EXISTS pii_vault_by_duplicate_index
    ON pii_vault (duplicate_index) WHERE duplicate_index IS NOT NULL;
"""


class UnknownClient(VaultError):
    """The vault holds no record under that client id."""


@dataclass(frozen=True)
class VaultRecord:
    """A client's record as read: the details, or None once erased."""

    client_id: str
    agency_id: str
    details: PersonalDetails | None
    created_at: datetime
    erased_at: datetime | None

    @property
    def erased(self) -> bool:
        """Whether the record was erased (its key destroyed)."""
        return self.erased_at is not None


class PiiVault:
    """Clients' personal details, sealed per client; erasure destroys the client's key."""

    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher) -> None:
        self.pool = pool
        self.cipher = cipher

    @classmethod
    def from_settings(cls, pool: asyncpg.Pool, settings: Settings) -> PiiVault:
        """A vault with the keys the settings carry."""
        kek, index_key = decode_key(settings.pii_kek), decode_key(settings.pii_index_key)
        return cls(pool, PiiCipher(kek, index_key))

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the vault table (idempotent)."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('caseline-intake-vault'))")
            await conn.execute(MIGRATION)

    def duplicate_index(self, name: str, birth_date: date) -> bytes:
        """The keyed hash registration compares clients by."""
        return self.cipher.duplicate_index(name, birth_date)

    async def lock_index(self, conn: asyncpg.Connection, index: bytes) -> None:
        """Serialise registrations of one name and birth date until the transaction ends."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", index.hex())

    async def clients_with_index(self, conn: asyncpg.Connection, index: bytes) -> list[str]:
        """Clients not erased whose name and birth date give this index, oldest first."""
        rows = await conn.fetch(
            "SELECT client_id FROM pii_vault WHERE duplicate_index = $1 ORDER BY created_at",
            index,
        )
        return [r["client_id"] for r in rows]

    async def put(
        self, conn: asyncpg.Connection, client_id: str, agency_id: str, details: PersonalDetails
    ) -> None:
        """Seal a new client's details under a fresh data key, in the caller's transaction."""
        data_key = self.cipher.new_data_key()
        await conn.execute(
            "INSERT INTO pii_vault (client_id, agency_id, kek_id, wrapped_key, sealed, "
            "duplicate_index) VALUES ($1, $2, $3, $4, $5, $6)",
            client_id,
            agency_id,
            self.cipher.kek_id,
            self.cipher.wrap_key(data_key, client_id),
            self.cipher.seal(data_key, client_id, details),
            self.duplicate_index(details.name, details.birth_date),
        )

    async def get(self, client_id: str, conn: asyncpg.Connection | None = None) -> VaultRecord:
        """Open a client's record; an erased one reads with `details=None`."""
        query = (
            "SELECT client_id, agency_id, wrapped_key, sealed, created_at, erased_at "
            "FROM pii_vault WHERE client_id = $1"
        )
        row = await (conn or self.pool).fetchrow(query, client_id)
        if row is None:
            raise UnknownClient(f"the vault holds no client {client_id!r}")
        details: PersonalDetails | None = None
        if row["wrapped_key"] is not None:
            data_key = self.cipher.unwrap_key(bytes(row["wrapped_key"]), client_id)
            details = self.cipher.open(data_key, client_id, bytes(row["sealed"]))
        return VaultRecord(
            client_id=row["client_id"],
            agency_id=row["agency_id"],
            details=details,
            created_at=row["created_at"],
            erased_at=row["erased_at"],
        )

    async def update(
        self, conn: asyncpg.Connection, client_id: str, details: PersonalDetails
    ) -> None:
        """Reseal a client's changed details under their existing data key."""
        row = await conn.fetchrow(
            "SELECT wrapped_key FROM pii_vault WHERE client_id = $1 FOR UPDATE", client_id
        )
        if row is None:
            raise UnknownClient(f"the vault holds no client {client_id!r}")
        if row["wrapped_key"] is None:
            raise VaultError(f"client {client_id!r} was erased: there is nothing to update")
        data_key = self.cipher.unwrap_key(bytes(row["wrapped_key"]), client_id)
        await conn.execute(
            "UPDATE pii_vault SET sealed = $2, duplicate_index = $3, updated_at = now() "
            "WHERE client_id = $1",
            client_id,
            self.cipher.seal(data_key, client_id, details),
            self.duplicate_index(details.name, details.birth_date),
        )

    async def erase(self, conn: asyncpg.Connection, client_id: str) -> bool:
        """Destroy the client's wrapped key and index (crypto-shredding); False if already done.

        The sealed document stays: without the key it is noise, and keeping it shows that
        erasure needs no rewrite of anything else.
        """
        erased = await conn.fetchval(
            "UPDATE pii_vault SET wrapped_key = NULL, duplicate_index = NULL, "
            "erased_at = now(), updated_at = now() "
            "WHERE client_id = $1 AND erased_at IS NULL RETURNING true",
            client_id,
        )
        if erased:
            return True
        if await conn.fetchval("SELECT 1 FROM pii_vault WHERE client_id = $1", client_id) is None:
            raise UnknownClient(f"the vault holds no client {client_id!r}")
        return False
