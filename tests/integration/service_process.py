"""A service run as a process of its own, for the tests that kill it with SIGKILL.

An app inside the test's event loop cannot be killed mid-write; a process can. The process
serves on a free port of 127.0.0.1, is handed over once `/health` answers 200 (waited for
with the harness's `eventually`), and is killed at the end of the block if it still runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.harness import eventually


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def service_process(
    module: str, *args: str, what: str
) -> AsyncIterator[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    """`python -m module PORT *args`, and a client of it once it is healthy; `what` names it
    in the failure of a process that never comes up."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(port), *args],
        env={**os.environ, "CASELINE_LOG_LEVEL": "WARNING", "CASELINE_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def health() -> int:
                try:
                    return (await http.get("/health")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(health, lambda code: code == 200, f"{what} up")
            yield process, http
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
