"""No service runs on the public development secrets, and no token outlives a working day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from typer.testing import CliRunner

from caseline.cli import app as cli_app
from shared.auth import ALGORITHM, ISSUER, issue_token, verify_token
from shared.envelope import Role
from shared.errors import AuthError, InsecureConfiguration
from shared.service import ServiceSpec, create_service_app
from shared.settings import (
    DEVELOPMENT_PII_KEK,
    MAX_TOKEN_TTL_SECONDS,
    Settings,
    load_settings,
    secrets_of_a_run,
)

SECRET_VARIABLES = ("CASELINE_TOKEN_SECRET", "CASELINE_PII_KEK", "CASELINE_PII_INDEX_KEY")


@pytest.fixture
def public_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment that sets none of the secrets (the test run's own are removed)."""
    for name in (*SECRET_VARIABLES, "CASELINE_DEVELOPMENT"):
        monkeypatch.delenv(name, raising=False)


def test_the_public_development_secrets_are_named_without_their_values(
    public_defaults: None,
) -> None:
    settings = load_settings()
    assert settings.insecure_settings() == [
        "CASELINE_TOKEN_SECRET is the public development secret",
        "CASELINE_PII_KEK is the public development key",
        "CASELINE_PII_INDEX_KEY is the public development key",
    ]
    with pytest.raises(InsecureConfiguration) as refused:
        settings.require_own_secrets("the intake service")
    message = str(refused.value)
    assert message.startswith("the intake service refuses to start")
    assert settings.token_secret.get_secret_value() not in message
    assert DEVELOPMENT_PII_KEK not in message


def test_a_short_token_secret_is_refused_too(public_defaults: None) -> None:
    settings = load_settings(token_secret="short-secret", **_own_keys())
    assert settings.insecure_settings() == ["CASELINE_TOKEN_SECRET is shorter than 32 characters"]


def test_development_mode_accepts_the_public_secrets(public_defaults: None) -> None:
    load_settings(development=True).require_own_secrets("the intake service")


def test_a_service_app_is_not_even_built_on_the_public_secrets(public_defaults: None) -> None:
    spec = ServiceSpec(name="intake", routers=[])
    with pytest.raises(InsecureConfiguration):
        create_service_app(spec, load_settings())
    create_service_app(spec, load_settings(**_own_secrets()))
    create_service_app(spec, load_settings(development=True))


def test_caseline_serve_refuses_the_public_secrets_with_exit_2(public_defaults: None) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "directory"])
    assert result.exit_code == 2
    assert "CASELINE_TOKEN_SECRET is the public development secret" in result.stderr
    assert "CASELINE_DEVELOPMENT=true" in result.stderr


def test_caseline_token_will_not_sign_with_the_public_secret(public_defaults: None) -> None:
    args = ["token", "--agency", "a", "--staff", "s", "--role", "network_admin"]
    refused = CliRunner().invoke(cli_app, args)
    assert refused.exit_code == 2 and refused.stdout == ""
    allowed = CliRunner().invoke(cli_app, args, env={"CASELINE_DEVELOPMENT": "true"})
    assert allowed.exit_code == 0, allowed.output


def test_no_token_is_issued_or_accepted_for_longer_than_the_cap() -> None:
    settings = load_settings(**_own_secrets())
    with pytest.raises(ValueError, match="capped"):
        issue_token(
            settings,
            agency_id="a",
            staff_id="s",
            role=Role.AUDITOR,
            ttl_seconds=MAX_TOKEN_TTL_SECONDS + 1,
        )
    with pytest.raises(ValueError):
        Settings(token_ttl_seconds=MAX_TOKEN_TTL_SECONDS + 1)  # type: ignore[call-arg]
    now = datetime.now(UTC)
    # Signed with the network's secret, but minted (by a careless script) to live a year.
    long_lived = jwt.encode(
        {
            "iss": ISSUER,
            "sub": "s",
            "agency": "a",
            "role": "network_admin",
            "iat": now,
            "exp": now + timedelta(days=365),
        },
        settings.token_secret.get_secret_value(),
        algorithm=ALGORITHM,
    )
    with pytest.raises(AuthError, match="cap"):
        verify_token(settings, long_lived)


def _own_secrets() -> dict[str, str]:
    return {name.removeprefix("CASELINE_").lower(): v for name, v in secrets_of_a_run().items()}


def _own_keys() -> dict[str, str]:
    own = _own_secrets()
    return {"pii_kek": own["pii_kek"], "pii_index_key": own["pii_index_key"]}
