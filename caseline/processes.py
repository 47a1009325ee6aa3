"""Run caseline services as child processes (`caseline serve`), as the demo and e2e tests do."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.errors import InfrastructureUnavailable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """One `caseline serve <service>` child process and where it answers."""

    service: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    async def wait_healthy(self, timeout: float = 60.0) -> None:
        """Wait until `/health` answers 200; raise with the log's tail if it never does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if (await client.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        raise InfrastructureUnavailable(
            f"the {self.service} service did not become healthy on {self.url}:\n{tail}"
        )

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_service(
    service: str, env: Mapping[str, str], log_dir: Path, port: int | None = None
) -> ServiceProcess:
    """Start `caseline serve <service>` on a free port, its output in `log_dir/<service>.log`."""
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{service}.log"
    caseline = Path(sys.executable).parent / "caseline"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(caseline), "serve", service, "--port", str(port)],
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(service, port, process, log_path)
