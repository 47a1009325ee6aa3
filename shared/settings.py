"""Settings, read once from the environment in each service's bootstrap."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://caseline:caseline@127.0.0.1:5432/caseline"


class Settings(BaseSettings):
    """Everything a caseline process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CASELINE_", extra="ignore", frozen=True)

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


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; overrides win (used by tests and the demo)."""
    return Settings(**overrides)  # type: ignore[arg-type]
