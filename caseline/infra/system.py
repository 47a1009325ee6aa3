"""Processes and probes the local runners share: is a port open, does a server answer,
is a pid alive, run a command, stop a process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import fcntl
import logging
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from caseline.infra.layout import (
    KILL_TIMEOUT,
    Echo,
    LocalLayout,
    LocalStackError,
    ppid_from_stat,
    tail,
)

T = TypeVar("T")

_log = logging.getLogger(__name__)


# -------------------------------------------------------------------------- probes


async def kafka_answers(bootstrap: str, timeout: float = 3.0) -> bool:
    """True when a broker at `bootstrap` answers a metadata request with live brokers."""
    if not await _any_port_open(bootstrap, timeout):
        # Nothing listens: say so without asking aiokafka, which would log errors.
        return False
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(int(timeout * 1000), 500)
    )
    with _quiet("aiokafka"):
        try:
            await asyncio.wait_for(admin.start(), timeout)
            info = await asyncio.wait_for(admin.describe_cluster(), timeout)
            return bool(info.get("brokers"))
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await admin.close()


async def database_answers(url: str, timeout: float = 3.0) -> bool:
    """True when PostgreSQL at `url` accepts the login and answers `SELECT 1`."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1", timeout=timeout) == 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    finally:
        await conn.close(timeout=timeout)


async def _any_port_open(bootstrap: str, timeout: float) -> bool:
    """True when one of the `host:port` entries of a bootstrap list accepts TCP."""
    for entry in bootstrap.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), timeout
            )
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a chatty library logger while probing a server that may not be up yet."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from synchronous code, even when an event loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(factory))
    # Called from inside a running loop (a test, the demo): use a fresh loop elsewhere.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="caseline-infra") as pool:
        return pool.submit(asyncio.run, _as_coroutine(factory)).result()


async def _as_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


# ------------------------------------------------------------------ process helpers


def _alive(pid: int) -> bool:
    """True when `pid` is a running (not zombie) process."""
    with contextlib.suppress(ChildProcessError, OSError):
        # Our own child that exited must be reaped, or it lingers as a zombie.
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat_file = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        fields = stat_file.read_text().rsplit(")", 1)[-1].split()
        if fields and fields[0] in ("Z", "X"):
            return False
    return True


def _cmdline(pid: int) -> list[str] | None:
    """The command line of a process (Linux /proc), or None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _read_pid(path: Path) -> int | None:
    """The first line of a pid file as a number, or None."""
    try:
        first = path.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def _run(
    cmd: list[str], *, what: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Run a command to completion; on failure raise with its output."""
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise LocalStackError(f"{what} failed: cannot run {cmd[0]}: {exc}") from exc
    if done.returncode != 0:
        raise LocalStackError(
            f"{what} failed (exit {done.returncode}): {shlex.join(cmd)}\n{tail(done.stdout)}"
        )
    return done.stdout


def _read_log(path: Path) -> str:
    """A log file's text, or a note that there is none."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return "(no log)"


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, wait, then SIGKILL; True when the process had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return False
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.1)
    return True


def _child_pids(pid: int) -> list[int]:
    """Pids whose parent is `pid` right now (Linux /proc)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        if ppid_from_stat(text) == pid:
            found.append(int(entry.name))
    return found


def _kill_and_wait(pids: list[int], what: str) -> None:
    """SIGKILL each pid and wait until none of them runs."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: not any(_alive(pid) for pid in pids), KILL_TIMEOUT, f"{what} to die")


def _wait_for_exit(pids: list[int], what: str) -> None:
    """Give processes KILL_TIMEOUT to exit by themselves, then SIGKILL the stragglers."""
    deadline = time.monotonic() + KILL_TIMEOUT
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return
        time.sleep(0.05)
    left = [pid for pid in pids if _alive(pid)]
    _log.warning(
        "%s still ran %.0f s after their parent died: killing %s", what, KILL_TIMEOUT, left
    )
    _kill_and_wait(left, what)


def _wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `done` until it holds; raise LocalStackError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise LocalStackError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def _stack_lock(layout: LocalLayout, echo: Echo) -> Iterator[None]:
    """Only one `up()`/`down()` at a time per local folder (parallel test runs, make)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            echo("another `caseline up`/`down` is at work here; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
