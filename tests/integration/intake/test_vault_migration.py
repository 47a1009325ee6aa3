"""An intake deployed before the kit's vault: its `pii_vault` rows open unchanged afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.intake.adapters.vault import DuplicateIndex, PiiVault
from services.intake.domain.client import PersonalDetails
from services.intake.domain.rrn import make_resident_number
from shared.grants import AccessDecision, Accessor
from shared.store import create_pool
from shared.vault import Vault
from shared.vault_crypto import VaultCipher

# `pii_vault` as intake created it before the kit's vault.
OLDER_PII_VAULT = """
CREATE TABLE pii_vault (
    client_id text PRIMARY KEY, agency_id text NOT NULL, kek_id text NOT NULL,
    wrapped_key bytea, sealed bytea NOT NULL, duplicate_index bytea,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    CONSTRAINT pii_vault_erased_has_no_key CHECK (
        (erased_at IS NULL) = (wrapped_key IS NOT NULL)
        AND (erased_at IS NULL) = (duplicate_index IS NOT NULL)
    )
);
CREATE INDEX pii_vault_by_duplicate_index
    ON pii_vault (duplicate_index) WHERE duplicate_index IS NOT NULL;
"""

BORN = date(1950, 3, 1)
DETAILS = PersonalDetails(
    name="Older Deployment Person",
    birth_date=BORN,
    resident_number=make_resident_number(BORN, "234567"),
    phone="010-1111-2222",
    address="서울특별시 종로구 1",
    preferred_language="ko",
)
READER = Accessor(staff_id="staff-1", role="case_manager", agency_id="agency-1")


def _older_seal(key: bytes, plaintext: bytes, purpose: bytes, client_id: str) -> bytes:
    """A seal exactly as intake's own vault made it (its associated data, its layout)."""
    nonce = os.urandom(12)
    aad = b"|".join((b"caseline.intake.pii.v1", purpose, client_id.encode()))
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


@pytest.fixture
async def schema_pool(pg_pool: asyncpg.Pool, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    schema = f"t_older_{uuid.uuid4().hex[:10]}"
    await pg_pool.execute(f'CREATE SCHEMA "{schema}"')
    pool = await create_pool(database_url, max_size=2, search_path=schema)
    try:
        yield pool
    finally:
        await pool.close()
        await pg_pool.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def test_r11_rows_of_an_older_pii_vault_move_into_the_kits_vault_and_open_as_before(
    schema_pool: asyncpg.Pool,
) -> None:
    kek, index_key = os.urandom(32), os.urandom(32)
    index = DuplicateIndex(index_key, key_encryption_key=kek)
    cipher = VaultCipher(kek, service="intake")
    kept, erased = "client-kept", "client-erased"
    data_key = os.urandom(32)
    await schema_pool.execute(OLDER_PII_VAULT)
    await schema_pool.execute(
        "INSERT INTO pii_vault (client_id, agency_id, kek_id, wrapped_key, sealed, "
        "duplicate_index) VALUES ($1, 'agency-1', $2, $3, $4, $5)",
        kept,
        cipher.kek_id,
        _older_seal(kek, data_key, b"data-key", kept),
        _older_seal(data_key, DETAILS.model_dump_json().encode(), b"details", kept),
        index(DETAILS.name, BORN),
    )
    await schema_pool.execute(
        "INSERT INTO pii_vault (client_id, agency_id, kek_id, wrapped_key, sealed, "
        "duplicate_index, erased_at) VALUES ($1, 'agency-1', $2, NULL, $3, NULL, now())",
        erased,
        cipher.kek_id,
        os.urandom(64),
    )
    schema = await schema_pool.fetchval("SELECT current_schema()")

    vault = PiiVault(Vault(cipher, "intake"), index)
    for _ in range(2):  # every start migrates; the second finds nothing to move
        await Vault.migrate(schema_pool, schema)
        await PiiVault.migrate(schema_pool)

    columns = {
        r["column_name"]
        for r in await schema_pool.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'pii_vault'"
        )
    }
    assert not columns & {"wrapped_key", "sealed", "kek_id"}  # no copy of a key is left behind
    async with schema_pool.acquire() as conn:
        allowed = AccessDecision.allow("case_agency")
        record = await vault.read(conn, READER, kept, allowed)
        assert record is not None and record.details == DETAILS and not record.erased
        assert await vault.clients_with_index(conn, index(DETAILS.name, BORN)) == [kept]
        gone = await vault.read(conn, READER, erased, allowed)
        assert gone is not None and gone.erased and gone.details is None

        async with conn.transaction():
            assert await vault.erase(conn, kept)
        after = await vault.read(conn, READER, kept, allowed)
        assert after is not None and after.erased and after.details is None
