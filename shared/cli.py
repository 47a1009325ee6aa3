"""The `caseline` command: local stack, tokens, benchmarks and the demo."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="caseline: event-sourced case management for multi-agency welfare networks.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    """Entry point of the `caseline` console script."""
    app()


if __name__ == "__main__":
    main()
