"""`caseline verify`: prove from the stores that no event was altered and R9 held."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shared.store import quote_schema

if TYPE_CHECKING:
    import asyncpg

    from caseline.verify import Verdict
    from shared.settings import Settings

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
    drift: bool = typer.Option(
        True,
        help="Also replay projections' read models and compare them with the live ones "
        "(skipped when no live projections schema exists).",
    ),
    wait: float = typer.Option(
        30.0, min=0, help="Seconds the drift check waits for live projections to catch up."
    ),
) -> None:
    """Verify every service's hash chains, closure's referral invariant and projections'
    read models against a replay of the history; exit 1 on any violation, naming each."""
    import asyncio

    from caseline.replay import ReplayError
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
            if drift:
                await check_drift(settings, pool, overrides, verdict, wait)
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
    except (CaselineError, ReplayError, OSError) as e:
        typer.echo(f"caseline verify: {e}", err=True)
        raise typer.Exit(2) from e
    if not ok:
        raise typer.Exit(1)


async def check_drift(
    settings: Settings,
    pool: asyncpg.Pool,
    schemas: dict[str, str],
    verdict: Verdict,
    wait_seconds: float,
) -> None:
    """Replay projections' read models and add what differs from the live ones to `verdict`."""
    from caseline.replay import replay_projections

    live = schemas.get("projections", "projections")
    exists = await pool.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f"{quote_schema(live)}.processed_messages"
    )
    if not exists:
        verdict.checked.append(f"projections: no live read models in schema {live}, not replayed")
        return
    report = await replay_projections(
        settings.database_url,
        settings,
        live_schema=live,
        schemas=schemas,
        wait_seconds=wait_seconds,
    )
    verdict.checked.append(
        f"projections: {report.events} event(s) replayed ({report.events_per_second:,.0f}/s), "
        f"{len(report.rows)} read model(s) compared, {len(report.drift)} drifted"
    )
    verdict.violations += [f"projections: drift in {d.describe()}" for d in report.drift]
    verdict.violations += [
        f"projections: consumer {consumer} is {n} event(s) behind the stores"
        for consumer, n in report.behind.items()
    ]
    verdict.violations += [
        f"projections: consumer {consumer} dead-lettered {n} event(s) the history applies"
        for consumer, n in report.dead_lettered.items()
    ]
