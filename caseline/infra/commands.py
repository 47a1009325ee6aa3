"""`caseline up`, `caseline down`, `caseline status`: the local stack from the command line."""

from __future__ import annotations

import typer

# caseline.infra.local (and aiokafka, asyncpg behind it) is imported inside each command,
# so `caseline --help` and unrelated commands stay fast.


def up() -> None:
    """Start a local Kafka broker and PostgreSQL (no Docker) unless they already answer."""
    from caseline.infra.local import LocalStackError
    from caseline.infra.local import up as start_stack

    try:
        result = start_stack()
    except LocalStackError as exc:
        typer.echo(f"caseline up failed: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.already_running:
        typer.echo("already running")
    elif result.started:
        typer.echo("started: " + ", ".join(result.started))
    _report(result.lines())
    raise typer.Exit(0 if result.healthy else 1)


def down() -> None:
    """Stop the Kafka broker and PostgreSQL that `caseline up` started (nothing else)."""
    from caseline.infra.local import LocalStackError
    from caseline.infra.local import down as stop_stack

    try:
        stopped = stop_stack()
    except LocalStackError as exc:
        typer.echo(f"caseline down failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("stopped: " + ", ".join(stopped) if stopped else "nothing to stop")


def status() -> None:
    """Say whether Kafka and PostgreSQL answer, who started them, and what to export."""
    from caseline.infra.local import LocalStackError
    from caseline.infra.local import status as stack_status

    try:
        result = stack_status()
    except LocalStackError as exc:
        typer.echo(f"caseline status failed: {exc}", err=True)
        raise typer.Exit(1) from None
    _report(result.lines())
    raise typer.Exit(0 if result.healthy else 1)


def _report(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add `up`, `down` and `status` to the `caseline` command."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
