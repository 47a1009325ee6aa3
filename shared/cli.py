"""The `caseline` command: local stack, tokens, benchmarks and the demo."""

from __future__ import annotations

import typer

from shared.auth_cli import token

app = typer.Typer(
    help="caseline: event-sourced case management for multi-agency welfare networks.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _commands() -> None:
    """Keep `caseline` a group of subcommands even while it has only one."""


app.command("token")(token)


def main() -> None:
    """Entry point of the `caseline` console script."""
    app()


if __name__ == "__main__":
    main()
