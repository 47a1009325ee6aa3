"""A benchmark whose database or broker goes away mid-run says so in one line and exits 1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import asyncpg
import pytest
import typer

from caseline.cli import _bench
from shared.settings import Settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_connection_refused_mid_run_is_one_line_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = _closed_port()

    async def measure(settings: Settings, progress: Callable[[str], None]) -> None:
        progress("measuring ...")
        await asyncio.sleep(0)
        # As when PostgreSQL stops between two steps: the next connection is refused.
        await asyncpg.connect(f"postgresql://nobody@127.0.0.1:{port}/none", timeout=5)

    with pytest.raises(typer.Exit) as ended:
        _bench("peer", measure)

    assert ended.value.exit_code == 1
    err = capsys.readouterr().err
    assert "caseline bench peer: the stack failed during the run" in err
    assert "no figures" in err and "Traceback" not in err
