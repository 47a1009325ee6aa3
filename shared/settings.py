"""Settings, read once from the environment in each service's bootstrap."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://caseline:caseline@127.0.0.1:5432/caseline"

# Development keys only (32 bytes each, base64): every deployment sets its own.
DEVELOPMENT_PII_KEK = base64.b64encode(b"caseline-dev-pii-kek-change-me!!").decode()
DEVELOPMENT_PII_INDEX_KEY = base64.b64encode(b"caseline-dev-pii-index-change-me").decode()
PII_KEY_BYTES = 32


def decode_key(secret: SecretStr) -> bytes:
    """The raw bytes of a base64 key setting (validated to be 32 bytes when settings load)."""
    return base64.b64decode(secret.get_secret_value(), validate=True)


class Settings(BaseSettings):
    """Everything a caseline process reads from its environment."""

    # hide_input_in_errors: a mistyped secret must not be echoed into a startup error or log.
    model_config = SettingsConfigDict(
        env_prefix="CASELINE_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    kafka_bootstrap_servers: str = Field(
        default=DEFAULT_KAFKA, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    service: str = "kit"
    db_schema: str | None = None
    """The service's PostgreSQL schema; its name when unset (tests give each run its own)."""
    db_pool_size: int = 10
    token_secret: SecretStr = SecretStr("caseline-local-development-secret-change-me")
    token_ttl_seconds: int = 8 * 3600
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    local_dir: Path = Path(".local")
    relay_batch_size: int = 500
    relay_poll_seconds: float = 0.5
    db_command_timeout_seconds: float = Field(default=30.0, gt=0)
    """A statement that runs longer fails (and its request answers 503), instead of hanging."""
    health_unhealthy_after_seconds: float = Field(default=15.0, gt=0)
    """/health answers 503 once a background task has been retrying (or starting) this long."""
    consumer_watch_seconds: float = Field(default=2.0, gt=0)
    """How often each consumer's lag is measured; Kafka or PostgreSQL not answering within
    2.5 times this marks the consumer as retrying."""
    retry_after_seconds: int = Field(default=5, ge=1)
    """The `Retry-After` a request that could not reach PostgreSQL or Kafka is answered with."""
    pii_kek: SecretStr = SecretStr(DEVELOPMENT_PII_KEK)
    """Key-encryption key of the intake PII vault: base64 of 32 random bytes."""
    pii_index_key: SecretStr = SecretStr(DEVELOPMENT_PII_INDEX_KEY)
    """HMAC key of the vault's duplicate index: base64 of 32 random bytes."""

    @field_validator("pii_kek", "pii_index_key")
    @classmethod
    def _a_32_byte_base64_key(cls, value: SecretStr) -> SecretStr:
        try:
            raw = decode_key(value)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 (e.g. `openssl rand -base64 32`)") from None
        if len(raw) != PII_KEY_BYTES:
            raise ValueError(f"must decode to {PII_KEY_BYTES} bytes, not {len(raw)}")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; overrides win (used by tests and the demo)."""
    return Settings(**overrides)  # type: ignore[arg-type]
