"""Bearer tokens, the FastAPI dependencies that check them, and `caseline token`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from caseline.cli import app as cli_app
from shared.auth import (
    Authenticated,
    Principal,
    ensure_same_agency,
    install_auth_handlers,
    issue_token,
    require_roles,
    verify_token,
)
from shared.envelope import Actor, Role
from shared.errors import AuthError, Forbidden
from shared.settings import Settings, load_settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def settings() -> Settings:
    return load_settings(token_secret=SECRET, token_ttl_seconds=600)


def _token(settings: Settings, role: Role = Role.CASE_MANAGER, agency: str = "agency-a") -> str:
    return issue_token(settings, agency_id=agency, staff_id="staff-7", role=role)


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _valid_claims() -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "iss": "caseline",
        "sub": "staff-7",
        "agency": "agency-a",
        "role": "supervisor",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }


# --- tokens -------------------------------------------------------------------------------


def test_an_issued_token_verifies_to_the_same_principal(settings: Settings) -> None:
    token = issue_token(settings, agency_id="agency-a", staff_id="staff-7", role=Role.SUPERVISOR)

    principal = verify_token(settings, token)

    assert principal == Principal(agency_id="agency-a", staff_id="staff-7", role=Role.SUPERVISOR)
    assert principal.actor() == Actor(staff_id="staff-7", role=Role.SUPERVISOR)


def test_a_token_carries_issuer_subject_agency_role_and_lifetime(settings: Settings) -> None:
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    token = issue_token(
        settings,
        agency_id="agency-a",
        staff_id="staff-7",
        role=Role.AUDITOR,
        ttl_seconds=120,
        issued_at=issued,
    )

    claims = jwt.decode(token, options={"verify_signature": False})

    assert claims["iss"] == "caseline"
    assert claims["sub"] == "staff-7"
    assert claims["agency"] == "agency-a"
    assert claims["role"] == "auditor"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["iat"] == int(issued.timestamp())


def test_the_default_lifetime_comes_from_settings(settings: Settings) -> None:
    claims = jwt.decode(_token(settings), options={"verify_signature": False})

    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds


def test_an_expired_token_is_refused(settings: Settings) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    token = issue_token(
        settings,
        agency_id="agency-a",
        staff_id="staff-7",
        role=Role.SUPERVISOR,
        ttl_seconds=60,
        issued_at=long_ago,
    )

    with pytest.raises(AuthError, match="expired"):
        verify_token(settings, token)


def test_a_token_signed_with_another_secret_is_refused(settings: Settings) -> None:
    other = load_settings(token_secret="another-network-secret-also-long-enough-0123")
    token = _token(other)

    with pytest.raises(AuthError, match="signature"):
        verify_token(settings, token)


def test_a_token_with_a_tampered_payload_is_refused(settings: Settings) -> None:
    header, payload, signature = _token(settings).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "network_admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    with pytest.raises(AuthError, match="signature"):
        verify_token(settings, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("claim", ["agency", "role", "sub", "exp", "iat", "iss"])
def test_a_token_missing_a_claim_is_refused(settings: Settings, claim: str) -> None:
    claims = _valid_claims()
    del claims[claim]

    with pytest.raises(AuthError, match=f"missing the '{claim}' claim"):
        verify_token(settings, _signed(claims))


def test_a_token_with_an_unknown_role_is_refused(settings: Settings) -> None:
    claims = _valid_claims() | {"role": "superuser"}

    with pytest.raises(AuthError, match="unknown role 'superuser'"):
        verify_token(settings, _signed(claims))


def test_a_token_from_another_issuer_is_refused(settings: Settings) -> None:
    claims = _valid_claims() | {"iss": "someone-else"}

    with pytest.raises(AuthError, match="issued by"):
        verify_token(settings, _signed(claims))


def test_an_unsigned_token_is_refused(settings: Settings) -> None:
    token = jwt.encode(_valid_claims(), key="", algorithm="none")

    with pytest.raises(AuthError, match="not signed with HS256"):
        verify_token(settings, token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "Bearer x.y.z"])
def test_a_malformed_token_is_refused(settings: Settings, garbage: str) -> None:
    with pytest.raises(AuthError, match="malformed"):
        verify_token(settings, garbage)


def test_a_token_cannot_be_issued_without_ids_or_with_no_lifetime(settings: Settings) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        issue_token(settings, agency_id="", staff_id="staff-7", role=Role.SUPERVISOR)
    with pytest.raises(ValueError, match="positive"):
        issue_token(settings, agency_id="a", staff_id="s", role=Role.SUPERVISOR, ttl_seconds=0)


# --- agency scoping -------------------------------------------------------------------------


def test_staff_may_act_for_their_own_agency_only() -> None:
    manager = Principal(agency_id="agency-a", staff_id="staff-7", role=Role.CASE_MANAGER)

    ensure_same_agency(manager, "agency-a")
    with pytest.raises(Forbidden, match="may not act for agency 'agency-b'"):
        ensure_same_agency(manager, "agency-b")


def test_a_network_admin_may_act_for_any_agency() -> None:
    admin = Principal(agency_id="network", staff_id="admin-1", role=Role.NETWORK_ADMIN)

    ensure_same_agency(admin, "agency-b")


# --- through a real FastAPI app -----------------------------------------------------------


def _app(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    install_auth_handlers(app)

    @app.get("/me")
    async def me(principal: Authenticated) -> dict[str, str]:
        return principal.model_dump(mode="json")

    @app.post("/approvals")
    async def approve(
        principal: Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENCY_ADMIN))],
    ) -> dict[str, str]:
        return principal.model_dump(mode="json")

    @app.get("/agencies/{agency_id}/cases")
    async def cases(agency_id: str, principal: Authenticated) -> dict[str, str]:
        ensure_same_agency(principal, agency_id)
        return {"agency_id": agency_id}

    return app


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(_app(settings))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_request_without_a_token_gets_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing bearer token" in response.json()["detail"]


def test_a_request_with_another_scheme_gets_401(client: TestClient) -> None:
    response = client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_with_a_bad_token_gets_401_with_the_reason(client: TestClient) -> None:
    other = load_settings(token_secret="another-network-secret-also-long-enough-0123")

    response = client.get("/me", headers=_bearer(_token(other)))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "signature" in response.json()["detail"]


def test_a_good_token_reaches_the_route_with_its_principal(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/me", headers=_bearer(_token(settings)))

    assert response.status_code == 200
    assert response.json() == {
        "agency_id": "agency-a",
        "staff_id": "staff-7",
        "role": "case_manager",
    }


def test_a_good_token_without_the_required_role_gets_403(
    client: TestClient, settings: Settings
) -> None:
    response = client.post("/approvals", headers=_bearer(_token(settings, Role.CASE_MANAGER)))

    assert response.status_code == 403
    assert "agency_admin, supervisor" in response.json()["detail"]


def test_a_good_token_with_one_of_the_required_roles_gets_200(
    client: TestClient, settings: Settings
) -> None:
    response = client.post("/approvals", headers=_bearer(_token(settings, Role.AGENCY_ADMIN)))

    assert response.status_code == 200
    assert response.json()["role"] == "agency_admin"


def test_staff_of_one_agency_get_403_for_another_agency(
    client: TestClient, settings: Settings
) -> None:
    headers = _bearer(_token(settings, agency="agency-a"))

    assert client.get("/agencies/agency-a/cases", headers=headers).status_code == 200
    response = client.get("/agencies/agency-b/cases", headers=headers)
    assert response.status_code == 403
    assert "agency-b" in response.json()["detail"]


def test_a_network_admin_token_reaches_any_agency(client: TestClient, settings: Settings) -> None:
    headers = _bearer(_token(settings, Role.NETWORK_ADMIN, agency="network"))

    assert client.get("/agencies/agency-b/cases", headers=headers).status_code == 200


def test_an_app_whose_bootstrap_set_no_settings_fails_loudly(settings: Settings) -> None:
    app = _app(settings)
    del app.state.settings

    with pytest.raises(RuntimeError, match=r"app\.state\.settings"):
        TestClient(app).get("/me", headers=_bearer(_token(settings)))


def test_require_roles_needs_at_least_one_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        require_roles()


# --- the `caseline token` command -----------------------------------------------------------


def test_caseline_token_prints_only_a_token_that_verifies(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("CASELINE_TOKEN_SECRET", SECRET)

    result = CliRunner().invoke(
        cli_app,
        ["token", "--agency", "agency-a", "--staff", "staff-7", "--role", "supervisor"],
    )

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert verify_token(settings, token) == Principal(
        agency_id="agency-a", staff_id="staff-7", role=Role.SUPERVISOR
    )


def test_caseline_token_honours_the_ttl_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASELINE_TOKEN_SECRET", SECRET)

    result = CliRunner().invoke(
        cli_app,
        ["token", "--agency", "a", "--staff", "s", "--role", "auditor", "--ttl", "90"],
    )

    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 90


def test_caseline_token_with_an_unknown_role_exits_2_naming_the_roles() -> None:
    result = CliRunner().invoke(
        cli_app, ["token", "--agency", "a", "--staff", "s", "--role", "boss"]
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--role" in result.stderr
    assert "case_manager" in result.stderr


def test_caseline_token_with_an_empty_staff_id_exits_2() -> None:
    result = CliRunner().invoke(
        cli_app, ["token", "--agency", "a", "--staff", "", "--role", "auditor"]
    )

    assert result.exit_code == 2
    assert "non-empty" in result.stderr
