"""Intake's client records: the details sealed in the kit's vault, the index in `pii_vault`.

The kit's vault (`shared/vault.py`: `vault_keys`, `vault_documents`, `vault_access_log`)
keeps each client's details as the document `details`, sealed under the client's key.
Intake's own table `pii_vault` keeps, per client, the registering agency and the keyed
duplicate index; erasure clears the index and shreds the key in the same transaction.

Before the kit's vault, `pii_vault` also held `kek_id`, `wrapped_key` and `sealed`. The
migration moves them, bytes unchanged, into the kit's tables (the seals bind the same
associated data, so they open as before) and drops those columns, so no copy of a key
survives an erasure.

The duplicate index is an HMAC-SHA256 of the normalised name and the birth date under its own
key (`CASELINE_PII_INDEX_KEY`): equal for the same person, useless to anyone without the key,
and never the key-encryption key that seals the details.

Writes take the caller's connection, so a client's record is made in the same transaction
as the events that name them. Nothing here logs or raises with personal data in the message.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.intake.domain.client import PersonalDetails, duplicate_key_material
from shared.grants import AccessDecision, Accessor
from shared.settings import Settings, decode_key
from shared.store import migrate_search_path
from shared.vault import Vault
from shared.vault_crypto import KEY_BYTES, VaultError

DETAILS = "details"
"""The vault document holding a client's personal details."""

MIGRATION = """
-- An older pii_vault kept each client's wrapped key and sealed details itself: move them,
-- bytes unchanged, into the kit's tables and drop them here, so no copy of a key survives
-- an erasure.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
           AND table_name = 'pii_vault' AND column_name = 'wrapped_key'
    ) THEN
        INSERT INTO vault_keys (client_id, kek_id, wrapped_key, created_at, shredded_at)
            SELECT client_id, kek_id, wrapped_key, created_at, erased_at FROM pii_vault
            ON CONFLICT (client_id) DO NOTHING;
        INSERT INTO vault_documents (client_id, document_id, kind, sealed, created_at,
                                     updated_at)
            SELECT client_id, 'details', 'details', sealed, created_at, updated_at
            FROM pii_vault
            ON CONFLICT (client_id, document_id) DO NOTHING;
        ALTER TABLE pii_vault
            DROP CONSTRAINT IF EXISTS pii_vault_erased_has_no_key,
            DROP COLUMN wrapped_key,
            DROP COLUMN sealed,
            DROP COLUMN kek_id,
            ADD CONSTRAINT pii_vault_erased_has_no_index CHECK (
                (erased_at IS NULL) = (duplicate_index IS NOT NULL)
            );
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS pii_vault (
    client_id        text        PRIMARY KEY,
    agency_id        text        NOT NULL,
    -- HMAC-SHA256 of normalised name and birth date; NULL once erased.
    duplicate_index  bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    erased_at        timestamptz,
    CONSTRAINT pii_vault_erased_has_no_index CHECK (
        (erased_at IS NULL) = (duplicate_index IS NOT NULL)
    )
);
CREATE INDEX IF NOT EXISTS pii_vault_by_duplicate_index
    ON pii_vault (duplicate_index) WHERE duplicate_index IS NOT NULL;
"""


class DuplicateIndex:
    """Computes the keyed hash registration compares clients by."""

    def __init__(self, index_key: bytes, *, key_encryption_key: bytes) -> None:
        if len(index_key) != KEY_BYTES:
            raise ValueError(f"the index key is {KEY_BYTES} bytes")
        if hmac.compare_digest(key_encryption_key, index_key):
            raise ValueError("the key-encryption key and the index key must differ")
        self._index_key = index_key

    def __repr__(self) -> str:
        return "DuplicateIndex()"

    def __call__(self, name: str, birth_date: date) -> bytes:
        """HMAC-SHA256 of the normalised name and birth date under the index key."""
        material = duplicate_key_material(name, birth_date)
        return hmac.new(self._index_key, material, hashlib.sha256).digest()


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
    """Clients' personal details in the kit's vault, and intake's duplicate index beside them."""

    def __init__(self, vault: Vault, index: DuplicateIndex) -> None:
        self.vault = vault
        self.index = index

    @classmethod
    def from_settings(cls, settings: Settings, vault: Vault | None = None) -> PiiVault:
        """Intake's records on `vault` (the running service's), or one the settings make."""
        kek = decode_key(settings.pii_kek)
        index = DuplicateIndex(decode_key(settings.pii_index_key), key_encryption_key=kek)
        return cls(vault or Vault.from_settings(settings, "intake"), index)

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create `pii_vault`; move an older one's keys and seals into the kit's vault.

        After the kit's vault is migrated (the move writes into its tables), in the pool's
        own schema (its search path).
        """
        await migrate_search_path(pool, MIGRATION)

    def duplicate_index(self, name: str, birth_date: date) -> bytes:
        """The keyed hash registration compares clients by."""
        return self.index(name, birth_date)

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
        await conn.execute(
            "INSERT INTO pii_vault (client_id, agency_id, duplicate_index) VALUES ($1, $2, $3)",
            client_id,
            agency_id,
            self.duplicate_index(details.name, details.birth_date),
        )
        await self.vault.put(conn, client_id, DETAILS, details)

    async def read(
        self,
        conn: asyncpg.Connection,
        accessor: Accessor,
        client_id: str,
        decision: AccessDecision,
    ) -> VaultRecord | None:
        """A client's record if `decision` allows (None if not); logged in the access log.

        An erased client reads with `details=None`.
        """
        opened = await self.vault.read(conn, accessor, client_id, DETAILS, decision)
        if not opened.allowed:
            return None
        row = await conn.fetchrow(
            "SELECT agency_id, created_at, erased_at FROM pii_vault WHERE client_id = $1",
            client_id,
        )
        if row is None:
            raise UnknownClient(f"the vault holds no client {client_id!r}")
        details = (
            None if opened.document is None else PersonalDetails.model_validate(opened.document)
        )
        return VaultRecord(
            client_id=client_id,
            agency_id=row["agency_id"],
            details=details,
            created_at=row["created_at"],
            erased_at=row["erased_at"],
        )

    async def update(
        self, conn: asyncpg.Connection, client_id: str, details: PersonalDetails
    ) -> None:
        """Reseal a client's changed details under their existing data key."""
        updated = await conn.fetchval(
            "UPDATE pii_vault SET duplicate_index = $2, updated_at = now() "
            "WHERE client_id = $1 AND erased_at IS NULL RETURNING true",
            client_id,
            self.duplicate_index(details.name, details.birth_date),
        )
        if not updated:
            raise UnknownClient(f"the vault holds no client {client_id!r} to update")
        await self.vault.update(conn, client_id, DETAILS, details)

    async def erase(self, conn: asyncpg.Connection, client_id: str) -> bool:
        """Clear the client's index and shred their key (crypto-shredding); False if done before.

        The sealed document stays: without the key it is noise, and keeping it shows that
        erasure needs no rewrite of anything else.
        """
        erased = await conn.fetchval(
            "UPDATE pii_vault SET duplicate_index = NULL, erased_at = now(), updated_at = now() "
            "WHERE client_id = $1 AND erased_at IS NULL RETURNING true",
            client_id,
        )
        if not erased and (
            await conn.fetchval("SELECT 1 FROM pii_vault WHERE client_id = $1", client_id) is None
        ):
            raise UnknownClient(f"the vault holds no client {client_id!r}")
        # Shredded either way: a record erased before the kit's vault keeps no key either.
        shredded = await self.vault.shred(conn, client_id)
        return bool(erased) or shredded
