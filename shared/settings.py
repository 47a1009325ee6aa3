"""Settings, read once from the environment in each service's bootstrap."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import InsecureConfiguration

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://caseline:caseline@127.0.0.1:5432/caseline"

# Development secrets only, public in this file: a service refuses to start on them unless
# CASELINE_DEVELOPMENT says it is a developer's machine (`Settings.insecure_settings`).
DEVELOPMENT_TOKEN_SECRET = "caseline-local-development-secret-change-me"
MIN_TOKEN_SECRET_LENGTH = 32
MAX_TOKEN_TTL_SECONDS = 12 * 3600
"""No token lives longer than a working day: a leaked or a departed person's token expires."""
DEVELOPMENT_PII_KEK = base64.b64encode(b"caseline-dev-pii-kek-change-me!!").decode()
DEVELOPMENT_PII_INDEX_KEY = base64.b64encode(b"caseline-dev-pii-index-change-me").decode()
PII_KEY_BYTES = 32
MAX_CALENDAR_OFFSET_DAYS = 3650


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
    development: bool = False
    """A developer's machine: the public development secrets are accepted (with a warning)."""
    token_secret: SecretStr = SecretStr(DEVELOPMENT_TOKEN_SECRET)
    token_ttl_seconds: int = Field(default=8 * 3600, gt=0, le=MAX_TOKEN_TTL_SECONDS)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Request bodies above this are refused with 413 before they are read."""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    local_dir: Path = Path(".local")
    relay_batch_size: int = 500
    relay_poll_seconds: float = 0.5
    topic_partitions: int = Field(default=3, ge=1, le=1000)
    """Partitions of each topic `caseline up` and the demo create (an existing topic keeps
    its own): the most replicas of one consumer that can share a topic's work."""
    topic_namespace: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    """When set, a service built without explicit topics uses `caseline.<namespace>-<service>.v1`:
    a process of its own on topics of its own (tests that kill a real `caseline serve`)."""
    scheduler_seconds: float | None = Field(default=None, gt=0)
    """How often a service's scheduler looks for what fell due; the service's default when
    unset (tests use a fraction of a second)."""
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
    """Key-encryption key of every service's vault: base64 of 32 random bytes."""
    pii_index_key: SecretStr = SecretStr(DEVELOPMENT_PII_INDEX_KEY)
    """HMAC key of intake's duplicate-client index: base64 of 32 random bytes."""
    calendar_offset_days: int = Field(default=0, ge=0, le=MAX_CALENDAR_OFFSET_DAYS)
    """How many days every "today" runs ahead of the real calendar (`shared.clock`): on a
    training or demonstration network only, so that a due date can pass during a short run."""
    training_network: bool = False
    """This network trains or demonstrates: no real client's case is on it. Required by a
    calendar offset, and shown on `/health` so nobody takes it for a live network."""

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

    def insecure_settings(self) -> list[str]:
        """The secrets still on their public development values (or too weak), by variable."""
        found = []
        secret = self.token_secret.get_secret_value()
        if secret == DEVELOPMENT_TOKEN_SECRET:
            found.append("CASELINE_TOKEN_SECRET is the public development secret")
        elif len(secret) < MIN_TOKEN_SECRET_LENGTH:
            found.append(
                f"CASELINE_TOKEN_SECRET is shorter than {MIN_TOKEN_SECRET_LENGTH} characters"
            )
        if self.pii_kek.get_secret_value() == DEVELOPMENT_PII_KEK:
            found.append("CASELINE_PII_KEK is the public development key")
        if self.pii_index_key.get_secret_value() == DEVELOPMENT_PII_INDEX_KEY:
            found.append("CASELINE_PII_INDEX_KEY is the public development key")
        return found

    def require_own_secrets(self, what: str) -> None:
        """Refuse (`InsecureConfiguration`) to run `what` on public secrets outside development."""
        found = self.insecure_settings()
        if found and not self.development:
            raise InsecureConfiguration(
                f"{what} refuses to start: "
                + "; ".join(found)
                + ". Set your own (a token secret of 32+ random characters; each PII key the "
                "base64 of 32 random bytes, `openssl rand -base64 32`), or set "
                "CASELINE_DEVELOPMENT=true on a developer's machine."
            )

    def require_live_calendar(self, what: str) -> None:
        """Refuse (`InsecureConfiguration`) to run `what` ahead of the real calendar unless the
        network is declared a training one: on a live network a moved "today" would mark
        forms, reviews and referrals overdue that are not, and date records wrongly."""
        if self.calendar_offset_days and not self.training_network:
            raise InsecureConfiguration(
                f"{what} refuses to start: CASELINE_CALENDAR_OFFSET_DAYS is "
                f"{self.calendar_offset_days}, which only a training or demonstration network "
                "may set. Set CASELINE_TRAINING_NETWORK=1 if no real client's case is on this "
                "network, or remove the offset."
            )


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; overrides win (used by tests and the demo)."""
    return Settings(**overrides)  # type: ignore[arg-type]


def secrets_of_a_run() -> dict[str, str]:
    """Fresh random secrets as environment variables, for a demo or a test run of its own."""
    import secrets

    return {
        "CASELINE_TOKEN_SECRET": secrets.token_urlsafe(48),
        "CASELINE_PII_KEK": base64.b64encode(secrets.token_bytes(PII_KEY_BYTES)).decode(),
        "CASELINE_PII_INDEX_KEY": base64.b64encode(secrets.token_bytes(PII_KEY_BYTES)).decode(),
    }
