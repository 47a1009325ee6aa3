"""`caseline verify`: prove from the stores that no event was altered and R9 held."""

from __future__ import annotations

from typing import Annotated

import typer

PENDING_BOUND_DAYS = 7
"""How long a referral may stay pending before it must have been escalated (practice)."""


def verify_command(
    schema: Annotated[
        list[str] | None,
        typer.Option(
            help="SERVICE=SCHEMA where a service's store is not in the schema of its name."
        ),
    ] = None,
    pending_bound_days: int = typer.Option(
        PENDING_BOUND_DAYS, min=0, help="Days a referral may stay pending unescalated."
    ),
) -> None:
    """Verify every service's hash chains and closure's referral invariant; exit 1 on any
    violation, naming each."""
    import asyncio

    from caseline.verify import verify
    from shared.clock import agency_today, configure_calendar
    from shared.errors import CaselineError
    from shared.settings import load_settings
    from shared.store import create_pool

    overrides: dict[str, str] = {}
    for item in schema or []:
        service, _, name = item.partition("=")
        if not name:
            raise typer.BadParameter("use SERVICE=SCHEMA", param_hint="--schema")
        overrides[service] = name
    settings = load_settings()

    async def run() -> bool:
        # R9's bound is judged on the network's calendar: a training network's, like its
        # closure scheduler's, runs ahead (and is refused on a live network).
        settings.require_live_calendar("caseline verify")
        configure_calendar(settings.calendar_offset_days)
        if settings.calendar_offset_days:
            typer.echo(
                f"verify: training network, today is {agency_today()} "
                f"({settings.calendar_offset_days} days ahead of the real calendar)",
                err=True,
            )
        pool = await create_pool(settings.database_url, max_size=2)
        try:
            verdict = await verify(
                pool,
                schemas=overrides,
                today=agency_today(),
                pending_bound_days=pending_bound_days,
            )
        finally:
            await pool.close()
        for line in verdict.checked:
            typer.echo(f"checked  {line}")
        for line in verdict.violations:
            typer.echo(f"VIOLATION {line}")
        typer.echo(
            "verify: ok" if verdict.ok else f"verify: {len(verdict.violations)} violation(s)"
        )
        return verdict.ok

    try:
        ok = asyncio.run(run())
    except (CaselineError, OSError) as e:
        typer.echo(f"caseline verify: {e}", err=True)
        raise typer.Exit(2) from e
    if not ok:
        raise typer.Exit(1)
