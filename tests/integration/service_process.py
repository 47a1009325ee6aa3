"""A service as a process of its own, for tests that kill it with SIGKILL mid-run.

An app run inside the test's event loop cannot be killed without killing the test; a process
can, at any instruction, which is what a crash is. The runner module a test gives (its
`python -m` name and arguments) serves the app on a free port (`caseline.processes`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from caseline.processes import free_port
from tests.harness import eventually

START_SECONDS = 60.0
"""A process imports the whole service and migrates its schema before `/health` answers."""


@asynccontextmanager
async def service_process(
    runner: str, *arguments: str, what: str
) -> AsyncIterator[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    """`python -m runner PORT *arguments`, handed over once `/health` answers 200; killed
    with SIGKILL after the block if it still runs (a test may have killed it already)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", runner, str(port), *arguments],
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

            await eventually(health, lambda code: code == 200, f"{what} up", timeout=START_SECONDS)
            yield process, http
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
