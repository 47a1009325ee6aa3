"""`caseline replay`: rebuild projections' read models from the stores; report drift and rate."""

from __future__ import annotations

from typing import Annotated

import typer

from caseline.replay import ReplayReport


def render_replay(report: ReplayReport) -> list[str]:
    """The report as lines: what was replayed and how fast, then each table's verdict."""
    lines = [
        f"replayed {report.events:,} events into a fresh schema in {report.seconds:.1f} s "
        f"({report.events_per_second:,.0f} events/s)",
    ]
    lines += [f"skipped  {source}: no event store in this database" for source in report.skipped]
    drifted = {d.table: d for d in report.drift}
    for table, count in report.rows.items():
        if table in drifted:
            lines.append(f"DRIFT    {drifted[table].describe()}")
        else:
            lines.append(f"same     {table}: {count:,} rows")
    lines += [f"DRIFT    {d.describe()}" for d in report.drift if d.table not in report.rows]
    lines += [
        f"BEHIND   consumer {consumer}: {n:,} replayed events not yet applied live"
        for consumer, n in report.behind.items()
    ]
    lines += [
        f"DEAD     consumer {consumer}: dead-lettered {n:,} event(s) the history applies"
        for consumer, n in report.dead_lettered.items()
    ]
    lines += [
        f"refused  consumer {consumer}: {n:,} stored event(s) its handler refuses, left out"
        for consumer, n in report.refused.items()
    ]
    if report.rebuilt:
        lines.append(
            f"rebuilt  {len(report.rebuilt)} live read model(s) from the replay: "
            + ", ".join(report.rebuilt)
        )
    if report.kept_schema:
        lines.append(f"kept     the replayed read models in schema {report.kept_schema}")
    if report.rebuilt:
        lines.append(f"replay: the live read models in {report.live_schema} are the history's now")
    elif report.ok:
        lines.append(f"replay: the live read models in {report.live_schema} match the history")
    else:
        lines.append(
            f"replay: {len(report.drift)} table(s) drifted, {len(report.behind)} consumer(s) behind"
            + (f", {len(report.dead_lettered)} dead-lettering" if report.dead_lettered else "")
        )
    return lines


def replay_command(
    live_schema: str = typer.Option(
        "projections", help="The schema of the live projections service."
    ),
    schema: Annotated[
        list[str] | None,
        typer.Option(
            help="SERVICE=SCHEMA where a service's store is not in the schema of its name."
        ),
    ] = None,
    wait: float = typer.Option(
        30.0, min=0, help="Seconds to wait for the live consumers to apply what was replayed."
    ),
    keep: bool = typer.Option(False, help="Keep the replayed schema for inspection."),
    rebuild: bool = typer.Option(
        False,
        help="Then replace the live read models' rows with the replayed ones, in one "
        "transaction (after an upgrade that adds a read model, or to mend drift).",
    ),
) -> None:
    """Rebuild projections' read models from every service's event store into a fresh
    schema, compare them row by row with the live ones, and report any drift and the replay
    rate; `--rebuild` then makes the live rows the replayed ones. Exits 1 on drift or a live
    projection still behind (unless rebuilt), 2 when it cannot run."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from caseline.history import parse_schemas
    from caseline.replay import ReplayError, replay_projections
    from shared.errors import CaselineError
    from shared.settings import load_settings

    schemas = parse_schemas(schema or [], ("intake", "careplan", "monitoring", "closure"))
    settings = load_settings()
    console = Console(stderr=True)
    with Progress(
        TextColumn("replaying {task.fields[store]:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=None, store="")

        def progress(store: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, store=store)

        try:
            report = asyncio.run(
                replay_projections(
                    settings.database_url,
                    settings,
                    live_schema=live_schema,
                    schemas=schemas,
                    wait_seconds=wait,
                    keep=keep,
                    rebuild=rebuild,
                    progress=progress,
                )
            )
        except (ReplayError, CaselineError, ValueError, OSError) as e:
            typer.echo(f"caseline replay: {e}", err=True)
            raise typer.Exit(2) from e
    for line in render_replay(report):
        typer.echo(line)
    if not report.ok and not report.rebuilt:
        raise typer.Exit(1)
