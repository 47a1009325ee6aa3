"""`caseline token`: print a signed bearer token for a staff member."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.envelope import Role


def token(
    agency: Annotated[str, typer.Option("--agency", help="Agency id the token acts for.")],
    staff: Annotated[str, typer.Option("--staff", help="Staff id (the token's subject).")],
    role: Annotated[Role, typer.Option("--role", help="The staff member's role.")],
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl", min=1, help="Lifetime in seconds (default: CASELINE_TOKEN_TTL_SECONDS)."
        ),
    ] = None,
) -> None:
    """Print a signed bearer token, and nothing else, so `TOKEN=$(caseline token ...)` works."""
    # JWT and settings are imported here so that `caseline --help` and other commands
    # do not pay for them.
    from shared.auth import issue_token
    from shared.errors import InsecureConfiguration
    from shared.settings import load_settings

    settings = load_settings()
    try:
        settings.require_own_secrets("caseline token")
    except InsecureConfiguration as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e
    try:
        signed = issue_token(settings, agency_id=agency, staff_id=staff, role=role, ttl_seconds=ttl)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    typer.echo(signed)
