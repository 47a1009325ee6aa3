"""Local Kafka broker and PostgreSQL cluster without Docker: `caseline up`, `down`, `status`.

Kafka runs from the Maven Central jars of deploy/local/pom.xml in KRaft combined mode;
PostgreSQL is Debian's, with its own cluster under `.local/postgres`. Everything lives in
one folder (`CASELINE_LOCAL_DIR`, default `.local` at the repository root), and `down()`
only ever stops what `up()` recorded there.

Recovery tests crash and restart one folder's servers with `kill_kafka`, `start_kafka`,
`restart_postgres`, `kill_postgres` and `start_postgres`; they use a private folder whose
layout borrows the shared Kafka jars (`LocalLayout.jars_from`), never the shared stack.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository this module belongs to (not the current directory)."""

DEPLOY_DIR = REPO_ROOT / "deploy" / "local"
"""pom.xml, server.properties template and log4j2.properties of the local broker."""

KAFKA_VERSION = "4.1.2"
"""The Kafka release deploy/local/pom.xml pulls from Maven Central."""

DEFAULT_KAFKA_PORT = 9092
DEFAULT_PG_PORT = 5432
PG_ROLE = "caseline"
PG_PASSWORD = "caseline"  # a local development cluster, reachable from 127.0.0.1 only
PG_DATABASE = "caseline"
PG_ADMIN = "postgres"  # the cluster's bootstrap superuser, reached over the private socket

KAFKA_READY_TIMEOUT = 120.0
PG_READY_TIMEOUT = 60.0
KAFKA_STOP_TIMEOUT = 60.0
# A SIGKILLed process is gone within milliseconds; PostgreSQL's children notice their
# postmaster died on their next wake-up, which is quick but not instant.
KILL_TIMEOUT = 15.0
# Two cores and several services plus tests on the same machine: keep the broker modest.
KAFKA_JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")

Echo = Callable[[str], None]
T = TypeVar("T")

_log = logging.getLogger(__name__)


class LocalStackError(RuntimeError):
    """The local stack could not be set up, started or stopped; the message says why."""


def say(message: str) -> None:
    """Default progress printer: one line on stderr, so stdout stays for reports."""
    print(f"caseline: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class LocalLayout:
    """Where the local stack keeps its files, and the ports it listens on."""

    root: Path
    kafka_port: int = DEFAULT_KAFKA_PORT
    controller_port: int = DEFAULT_KAFKA_PORT + 1
    pg_port: int = DEFAULT_PG_PORT
    jars_from: Path | None = None
    """Another folder's Kafka jars (its `kafka_libs`) to use read-only, instead of a copy."""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, repo_root: Path = REPO_ROOT
    ) -> LocalLayout:
        """Read CASELINE_LOCAL_DIR and CASELINE_{KAFKA,KAFKA_CONTROLLER,PG}_PORT."""
        env = os.environ if env is None else env
        raw_root = env.get("CASELINE_LOCAL_DIR") or ".local"
        # Relative folders are taken from the repository root, so `caseline up` run from
        # any directory finds the same broker and cluster.
        root = Path(raw_root).expanduser()
        if not root.is_absolute():
            root = repo_root / root
        kafka_port = _port(env, "CASELINE_KAFKA_PORT", DEFAULT_KAFKA_PORT)
        controller_port = _port(env, "CASELINE_KAFKA_CONTROLLER_PORT", kafka_port + 1)
        pg_port = _port(env, "CASELINE_PG_PORT", DEFAULT_PG_PORT)
        if len({kafka_port, controller_port, pg_port}) != 3:
            raise LocalStackError(
                f"the Kafka ({kafka_port}), Kafka controller ({controller_port}) and "
                f"PostgreSQL ({pg_port}) ports must differ"
            )
        return cls(root, kafka_port, controller_port, pg_port)

    @property
    def kafka_bootstrap(self) -> str:
        """Value for KAFKA_BOOTSTRAP_SERVERS."""
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        """Value for DATABASE_URL (an asyncpg DSN)."""
        return f"postgresql://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{self.pg_port}/{PG_DATABASE}"

    @property
    def logs_dir(self) -> Path:
        """Logs of both servers."""
        return self.root / "logs"

    @property
    def kafka_dir(self) -> Path:
        """Everything of the broker: jars, data, rendered configuration, pid file."""
        return self.root / "kafka"

    @property
    def kafka_libs(self) -> Path:
        """The broker's jars: our own copy from Maven, or the borrowed `jars_from` folder."""
        if self.jars_from is not None:
            return self.jars_from
        return self.kafka_dir / "libs"

    @property
    def kafka_data(self) -> Path:
        """log.dirs of the broker (also its KRaft metadata log)."""
        return self.kafka_dir / "data"

    @property
    def kafka_properties(self) -> Path:
        """server.properties rendered from deploy/local/server.properties."""
        return self.kafka_dir / "server.properties"

    @property
    def kafka_pid_file(self) -> Path:
        """Pid of the broker `up()` started; `down()` stops only that process."""
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_log(self) -> Path:
        """Console output of the broker (log4j2 writes there)."""
        return self.logs_dir / "kafka.log"

    @property
    def pg_dir(self) -> Path:
        """Everything of the PostgreSQL cluster; owned by the user that runs it."""
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.pg_dir / "data"

    @property
    def pg_socket_dir(self) -> Path:
        """Unix socket folder: private, so trusted local logins stay with its owner."""
        return self.pg_dir / "run"

    @property
    def pg_log(self) -> Path:
        """Server log written by `pg_ctl -l`."""
        return self.logs_dir / "postgres.log"

    @property
    def lock_file(self) -> Path:
        """Serialises concurrent `up()`/`down()` calls."""
        return self.root / "stack.lock"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    """Read one port from the environment, refusing anything that is not a TCP port."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LocalStackError(f"{name}={raw!r} is not a port number") from None
    if not 0 < value < 65536:
        raise LocalStackError(f"{name}={raw!r} is not a port number")
    return value


# --------------------------------------------------------------------- pure helpers


def new_cluster_id() -> str:
    """A fresh KRaft cluster id: 16 random bytes, base64url without padding (22 chars)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        # Kafka's own generator avoids a leading "-", which its command line would
        # take for an option.
        if not text.startswith("-"):
            return text


def is_cluster_id(value: str) -> bool:
    """True when `value` has the shape of a KRaft cluster id."""
    if len(value) != 22 or value.startswith("-"):
        return False
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except ValueError:
        return False
    return len(raw) == 16 and base64.urlsafe_b64encode(raw).decode().rstrip("=") == value


def render_server_properties(
    template: str, *, kafka_port: int, controller_port: int, data_dir: Path
) -> str:
    """Fill the server.properties template; a placeholder left unfilled is an error."""
    try:
        return string.Template(template).substitute(
            kafka_port=kafka_port, controller_port=controller_port, data_dir=str(data_dir)
        )
    except (KeyError, ValueError) as exc:
        raise LocalStackError(f"bad placeholder in the server.properties template: {exc}") from exc


def parse_properties(text: str) -> dict[str, str]:
    """Parse simple `key=value` Java properties (no continuation lines)."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def pick_pg_bin_dir(candidates: Iterable[Path], major: str | None = None) -> Path | None:
    """Pick `/usr/lib/postgresql/<version>/bin`: the given major version, else the newest."""
    versioned: list[tuple[tuple[int, ...], Path]] = []
    for path in candidates:
        version = path.parent.name
        try:
            key = tuple(int(part) for part in version.split("."))
        except ValueError:
            continue
        if major is not None and version != major:
            continue
        versioned.append((key, path))
    if not versioned:
        return None
    return max(versioned)[1]


def tail(text: str, lines: int = 30) -> str:
    """The last `lines` lines of a log, indented for an error message."""
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (empty)"


def pom_digest(pom: bytes) -> str:
    """Fingerprint of the pom the jars came from, so a changed pom fetches them again."""
    return hashlib.sha256(pom).hexdigest()


# -------------------------------------------------------------------------- status


@dataclass(frozen=True)
class ComponentStatus:
    """One server of the local stack: does it answer, where, and who started it."""

    name: str
    address: str
    answering: bool
    pid: int | None = None
    external: bool = False
    log: Path | None = None

    @property
    def started_by(self) -> str:
        """Human description of who runs it."""
        if self.pid is not None:
            return f"caseline up (pid {self.pid})"
        if self.answering:
            return "someone else (not caseline up; `caseline down` leaves it alone)"
        return "nobody (not running)"

    def line(self) -> str:
        """One report line."""
        state = "answering" if self.answering else "NOT answering"
        return f"{self.name:<10} {self.address:<22} {state:<13} started by {self.started_by}"


@dataclass(frozen=True)
class StackStatus:
    """Both servers, the environment to export, and what the last `up()` did."""

    kafka: ComponentStatus
    postgres: ComponentStatus
    kafka_bootstrap: str
    database_url: str
    already_running: bool = False
    started: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        """Both servers answer."""
        return self.kafka.answering and self.postgres.answering

    def env(self) -> dict[str, str]:
        """The variables services, tests and the demo read."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DATABASE_URL": self.database_url,
        }

    def lines(self) -> list[str]:
        """Printable report: one line per server, then the exports."""
        report = [self.kafka.line(), self.postgres.line()]
        report += [f"export {key}={shlex.quote(value)}" for key, value in self.env().items()]
        return report


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


# --------------------------------------------------------------------------- Kafka


def kafka_pid(layout: LocalLayout) -> int | None:
    """Pid of the broker `up()` started from this folder, when it still runs."""
    pid = _read_pid(layout.kafka_pid_file)
    if pid is None or not _alive(pid):
        return None
    cmdline = _cmdline(pid)
    # Guard against a recycled pid: it must be our broker with our configuration.
    if cmdline is not None and not (
        "kafka.Kafka" in cmdline and str(layout.kafka_properties) in cmdline
    ):
        return None
    return pid


def _ensure_kafka_jars(layout: LocalLayout, echo: Echo) -> None:
    """Copy the broker's jars from Maven Central once (again only if the pom changed)."""
    pom = DEPLOY_DIR / "pom.xml"
    digest = pom_digest(pom.read_bytes())
    marker = layout.kafka_libs / ".caseline-pom-sha256"
    if marker.is_file() and marker.read_text().strip() == digest:
        return
    if layout.jars_from is not None:
        # Borrowed jars belong to another folder (the shared stack's): refreshing them
        # here would delete them under a broker that runs from them. Only their owner may.
        raise LocalStackError(
            f"the borrowed Kafka jars in {layout.jars_from} are missing or were fetched for "
            "another deploy/local/pom.xml; run `caseline up` (or _ensure_kafka_jars) for the "
            "folder that owns them first"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalStackError(
            "Maven (mvn) is needed once to fetch the Kafka jars from Maven Central; "
            "install it (e.g. `apt-get install maven`)"
        )
    partial = layout.kafka_dir / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    echo(
        f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into "
        f"{layout.kafka_libs} (first run only; may take a minute)"
    )
    started = time.monotonic()
    _run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        what="fetching the Kafka jars with Maven",
    )
    if not any(partial.glob("kafka_2.13-*.jar")):
        raise LocalStackError(f"Maven finished but {partial} holds no kafka_2.13 jar")
    # Swap in the complete folder at once, so an interrupted download is never used.
    shutil.rmtree(layout.kafka_libs, ignore_errors=True)
    partial.rename(layout.kafka_libs)
    marker.write_text(digest + "\n")
    count = len(list(layout.kafka_libs.glob("*.jar")))
    echo(f"{count} jars ready in {time.monotonic() - started:.1f} s")


def _java() -> str:
    """Path of `java`, or a clear error."""
    java = shutil.which("java")
    if java is None:
        raise LocalStackError(
            "java is needed for the local Kafka broker; install OpenJDK 17 "
            "(e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return java


def _prepare_kafka(layout: LocalLayout, echo: Echo) -> None:
    """Jars, rendered configuration and formatted storage: everything before starting."""
    java = _java()
    # With borrowed jars nothing else creates the broker's folder before we write into it.
    layout.kafka_dir.mkdir(parents=True, exist_ok=True)
    _ensure_kafka_jars(layout, echo)
    template = (DEPLOY_DIR / "server.properties").read_text()
    rendered = render_server_properties(
        template,
        kafka_port=layout.kafka_port,
        controller_port=layout.controller_port,
        data_dir=layout.kafka_data,
    )
    layout.kafka_properties.write_text(rendered)

    formatted_for = layout.kafka_dir / "formatted-for-controller"
    if (layout.kafka_data / "meta.properties").is_file():
        # The controller's address is written into the metadata log when formatting;
        # a broker started on another controller port would never find its quorum.
        recorded = formatted_for.read_text().strip() if formatted_for.is_file() else ""
        if recorded and recorded != f"127.0.0.1:{layout.controller_port}":
            raise LocalStackError(
                f"the Kafka storage in {layout.kafka_data} was formatted for controller "
                f"{recorded}, not 127.0.0.1:{layout.controller_port}; remove that folder "
                "(its topics are lost) or use the old CASELINE_KAFKA_* ports"
            )
        return

    id_file = layout.kafka_dir / "cluster.id"
    cluster_id = id_file.read_text().strip() if id_file.is_file() else ""
    if not is_cluster_id(cluster_id):
        cluster_id = new_cluster_id()
        id_file.write_text(cluster_id + "\n")
    echo(f"formatting Kafka storage in {layout.kafka_data} (cluster id {cluster_id})")
    layout.kafka_data.mkdir(parents=True, exist_ok=True)
    _run(
        [
            java,
            *KAFKA_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.properties'}",
            "-cp",
            f"{layout.kafka_libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(layout.kafka_properties),
        ],
        what="formatting the Kafka storage",
        cwd=layout.kafka_dir,
    )
    formatted_for.write_text(f"127.0.0.1:{layout.controller_port}\n")


def _launch_kafka(layout: LocalLayout, echo: Echo) -> subprocess.Popen[bytes]:
    """Start the broker in the background and record its pid."""
    for port, role in ((layout.kafka_port, "broker"), (layout.controller_port, "controller")):
        if port_in_use(port):
            raise LocalStackError(
                f"port {port} (Kafka {role}) is taken by a process that is not a Kafka "
                f"broker answering on {layout.kafka_bootstrap}; stop it or set "
                "CASELINE_KAFKA_PORT / CASELINE_KAFKA_CONTROLLER_PORT"
            )
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        _java(),
        *KAFKA_JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.properties'}",
        "-cp",
        f"{layout.kafka_libs}/*",
        "kafka.Kafka",
        str(layout.kafka_properties),
    ]
    echo(f"starting Kafka on {layout.kafka_bootstrap} (log: {layout.kafka_log})")
    with open(layout.kafka_log, "ab") as log_file:
        log_file.write(f"---- caseline up {time.strftime('%Y-%m-%d %H:%M:%S')} ----\n".encode())
        log_file.flush()
        # A session of its own: Ctrl-C in the terminal that ran `caseline up`, or the
        # end of a test run, does not take the broker down.
        process = subprocess.Popen(
            cmd,
            cwd=layout.kafka_dir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    layout.kafka_pid_file.write_text(f"{process.pid}\n")
    return process


async def _wait_for_kafka(
    layout: LocalLayout, process: subprocess.Popen[bytes], echo: Echo
) -> float:
    """Wait until the broker answers; seconds waited, or an error with the log's tail."""
    echo(f"waiting for Kafka on {layout.kafka_bootstrap} (up to {KAFKA_READY_TIMEOUT:.0f} s)")
    started = time.monotonic()
    while time.monotonic() - started < KAFKA_READY_TIMEOUT:
        if process.poll() is not None:
            layout.kafka_pid_file.unlink(missing_ok=True)
            raise LocalStackError(
                f"Kafka exited with code {process.returncode} while starting; "
                f"end of {layout.kafka_log}:\n{tail(_read_log(layout.kafka_log))}"
            )
        if await kafka_answers(layout.kafka_bootstrap, timeout=2.0):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    # Do not leave a half-started broker behind: the next `up()` starts clean.
    _terminate(process.pid, timeout=15.0)
    layout.kafka_pid_file.unlink(missing_ok=True)
    raise LocalStackError(
        f"Kafka did not answer on {layout.kafka_bootstrap} within "
        f"{KAFKA_READY_TIMEOUT:.0f} s; end of {layout.kafka_log}:\n"
        f"{tail(_read_log(layout.kafka_log))}"
    )


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


def _stop_kafka(layout: LocalLayout, echo: Echo) -> bool:
    """Stop the broker `up()` started; True when there was one."""
    pid = kafka_pid(layout)
    if pid is None:
        layout.kafka_pid_file.unlink(missing_ok=True)
        return False
    echo(f"stopping Kafka (pid {pid})")
    started = time.monotonic()
    if _terminate(pid, KAFKA_STOP_TIMEOUT):
        echo(f"Kafka did not stop within {KAFKA_STOP_TIMEOUT:.0f} s and was killed")
    else:
        echo(f"Kafka stopped in {time.monotonic() - started:.1f} s")
    layout.kafka_pid_file.unlink(missing_ok=True)
    return True


# ---------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class _PgRunner:
    """Who runs the cluster, and how to run a command as that user."""

    user: str
    uid: int
    gid: int
    as_root: bool

    def command(self, cmd: list[str]) -> list[str]:
        """Wrap `cmd` so it runs as the cluster's user (PostgreSQL refuses root)."""
        if not self.as_root:
            return cmd
        if shutil.which("runuser"):
            return ["runuser", "-u", self.user, "--", *cmd]
        return ["su", self.user, "-s", "/bin/sh", "-c", shlex.join(cmd)]


def _pg_runner() -> _PgRunner:
    """The current user, or `postgres` when running as root."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return _PgRunner(me.pw_name, me.pw_uid, me.pw_gid, as_root=False)
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise LocalStackError(
            "PostgreSQL refuses to run as root and there is no `postgres` user; "
            "install Debian's postgresql package (it creates one) or run as another user"
        ) from None
    return _PgRunner(entry.pw_name, entry.pw_uid, entry.pw_gid, as_root=True)


def _pg_bin_dir(layout: LocalLayout, echo: Echo) -> Path:
    """The server binaries: Debian's newest (or the cluster's version); installed if missing."""
    major = None
    version_file = layout.pg_data / "PG_VERSION"
    if version_file.is_file():
        major = version_file.read_text().strip()
    found = _find_pg_bin_dir(major)
    if found is not None:
        return found
    if major is not None and _find_pg_bin_dir(None) is not None:
        raise LocalStackError(
            f"the cluster in {layout.pg_data} was made by PostgreSQL {major}, which is not "
            f"installed; install postgresql-{major} or remove {layout.pg_dir} to start afresh"
        )
    _install_postgresql(echo)
    found = _find_pg_bin_dir(major)
    if found is None:
        raise LocalStackError("installed Debian's postgresql but found no pg_ctl afterwards")
    return found


def _find_pg_bin_dir(major: str | None) -> Path | None:
    """Debian's /usr/lib/postgresql/<v>/bin first, then pg_ctl on PATH."""
    candidates = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "pg_ctl").is_file() and (path / "initdb").is_file()
    ]
    found = pick_pg_bin_dir(candidates, major)
    if found is not None:
        return found
    on_path = shutil.which("pg_ctl")
    if on_path and major is None and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    return None


def _install_postgresql(echo: Echo) -> None:
    """Install Debian's postgresql package (root only), without its default cluster."""
    if os.geteuid() != 0:
        raise LocalStackError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on "
            "PATH). Install Debian's package (`sudo apt-get install postgresql`) or run "
            "`caseline up` as root once so it can install it"
        )
    if shutil.which("apt-get") is None:
        raise LocalStackError("PostgreSQL is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    echo("PostgreSQL is not installed: installing Debian's postgresql package (apt-get)")
    started = time.monotonic()
    _run(["apt-get", "update"], what="apt-get update", env=env)
    # postgresql-common first, so its cluster defaults can be told not to create and
    # start a "main" cluster on port 5432, the port our own cluster uses.
    _run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql-common"],
        what="installing postgresql-common",
        env=env,
    )
    _disable_debian_main_cluster()
    _run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        what="installing postgresql",
        env=env,
    )
    echo(f"PostgreSQL installed in {time.monotonic() - started:.0f} s")


def _disable_debian_main_cluster() -> None:
    """Set `create_main_cluster = false` in Debian's createcluster.conf."""
    conf = Path("/etc/postgresql-common/createcluster.conf")
    lines = conf.read_text().splitlines() if conf.is_file() else []
    kept = [line for line in lines if not line.lstrip("# ").startswith("create_main_cluster")]
    kept.append("create_main_cluster = false  # caseline: its own cluster lives in .local")
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("\n".join(kept) + "\n")


def postgres_pid(layout: LocalLayout) -> int | None:
    """Pid of the postmaster of the cluster in this folder, when it runs."""
    pid_file = layout.pg_data / "postmaster.pid"
    pid = _read_pid(pid_file)
    if pid is None or not _alive(pid):
        return None
    cmdline = _cmdline(pid)
    if cmdline is not None and not any("postgres" in part for part in cmdline[:1]):
        return None
    return pid


def _open_traversal(path: Path, runner: _PgRunner, echo: Echo) -> None:
    """Let the cluster's user reach `path`: add o+x to parents that lack it (root only)."""
    if not runner.as_root:
        return
    for parent in reversed(path.parents):
        try:
            info = parent.stat()
        except OSError:
            continue
        if info.st_uid != runner.uid and not info.st_mode & stat.S_IXOTH:
            os.chmod(parent, stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
            echo(f"made {parent} traversable (o+x) for the {runner.user} user")


def _chown(path: Path, runner: _PgRunner) -> None:
    """Hand a file or folder to the cluster's user (only root needs to)."""
    if runner.as_root:
        os.chown(path, runner.uid, runner.gid)


def _prepare_postgres(layout: LocalLayout, echo: Echo) -> tuple[Path, _PgRunner]:
    """Binaries, folders with the right owner, and an initialised cluster."""
    bin_dir = _pg_bin_dir(layout, echo)
    runner = _pg_runner()
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    _open_traversal(layout.pg_dir, runner, echo)
    _open_traversal(layout.pg_log, runner, echo)
    _chown(layout.pg_dir, runner)
    layout.pg_socket_dir.mkdir(exist_ok=True)
    # Local logins are trusted, so the socket folder must be private to its owner.
    layout.pg_socket_dir.chmod(0o700)
    _chown(layout.pg_socket_dir, runner)
    layout.pg_log.touch()
    _chown(layout.pg_log, runner)

    if not (layout.pg_data / "PG_VERSION").is_file():
        echo(f"creating a PostgreSQL cluster in {layout.pg_data} (as user {runner.user})")
        _run(
            runner.command(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(layout.pg_data),
                    "-U",
                    PG_ADMIN,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ]
            ),
            what="initdb",
            cwd=layout.pg_dir,
        )
        with open(layout.pg_data / "postgresql.conf", "a") as conf:
            conf.write("\n# caseline: port, socket, tuning\ninclude_if_exists = 'caseline.conf'\n")
    _write_caseline_conf(layout, runner)
    return bin_dir, runner


def _write_caseline_conf(layout: LocalLayout, runner: _PgRunner) -> None:
    """Port and socket may change between runs (CASELINE_PG_PORT): rewrite them each start."""
    socket_dir = str(layout.pg_socket_dir).replace("'", "''")
    text = (
        "# Written by `caseline up` before every start; edits are overwritten.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {layout.pg_port}\n"
        f"unix_socket_directories = '{socket_dir}'\n"
        "unix_socket_permissions = 0700\n"
        "# Six services with connection pools, plus the tests.\n"
        "max_connections = 300\n"
        "# A development cluster: a crash may lose the last moments of commits, never\n"
        "# their order or atomicity; much faster on slow disks.\n"
        "synchronous_commit = off\n"
    )
    conf = layout.pg_data / "caseline.conf"
    conf.write_text(text)
    _chown(conf, runner)


def _start_postgres(layout: LocalLayout, echo: Echo) -> None:
    """Start the cluster (`pg_ctl -w`), then make the caseline role and database."""
    bin_dir, runner = _prepare_postgres(layout, echo)
    if postgres_pid(layout) is None:
        if port_in_use(layout.pg_port):
            raise LocalStackError(
                f"port {layout.pg_port} is taken by a server that does not accept "
                f"{layout.database_url} (Debian's own cluster? see `pg_lsclusters`); stop it "
                "or set CASELINE_PG_PORT"
            )
        _clear_stale_postmaster_pid(layout, echo)
        echo(f"starting PostgreSQL on 127.0.0.1:{layout.pg_port} (log: {layout.pg_log})")
        try:
            _run(
                runner.command(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(layout.pg_data),
                        "-l",
                        str(layout.pg_log),
                        "-w",
                        "-t",
                        str(int(PG_READY_TIMEOUT)),
                        "start",
                    ]
                ),
                what="pg_ctl start",
                cwd=layout.pg_dir,
            )
        except LocalStackError as exc:
            raise LocalStackError(
                f"{exc}\nend of {layout.pg_log}:\n{tail(_read_log(layout.pg_log))}"
            ) from None
    run_async(lambda: _provision(layout))


def _clear_stale_postmaster_pid(layout: LocalLayout, echo: Echo) -> None:
    """Remove the lock files a postmaster that crashed (or was SIGKILLed) left behind."""
    # Normally the postmaster takes over stale locks itself. But a killed postmaster stays
    # a zombie until init reaps it, which some container inits do only seconds later, and
    # the postmaster takes a zombie's pid for a live server and refuses to start. Called
    # only when postgres_pid() found no live postmaster and nothing listens on the port.
    locks = [layout.pg_data / "postmaster.pid", *layout.pg_socket_dir.glob(".s.PGSQL.*.lock")]
    for lock in locks:
        pid = _read_pid(lock)
        if pid is not None and not _alive(pid):
            echo(f"removing {lock}, left by postmaster {pid}, which is no longer running")
            lock.unlink(missing_ok=True)


async def _provision(layout: LocalLayout) -> None:
    """Create the caseline login role and database when missing (idempotent)."""
    import asyncpg

    conn = await asyncpg.connect(
        host=str(layout.pg_socket_dir),
        port=layout.pg_port,
        user=PG_ADMIN,
        database="postgres",
        timeout=PG_READY_TIMEOUT,
    )
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PG_ROLE):
            # Superuser: tests create schemas and one of them tampers with stored events
            # to prove the hash chain catches it. Only 127.0.0.1 can log in at all.
            sql = await conn.fetchval(
                "SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', $1::text, $2::text)",
                PG_ROLE,
                PG_PASSWORD,
            )
            await conn.execute(sql)
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE):
            sql = await conn.fetchval(
                "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)",
                PG_DATABASE,
                PG_ROLE,
            )
            await conn.execute(sql)
    finally:
        await conn.close()


async def _wait_for_database(layout: LocalLayout) -> float:
    """Wait until the caseline login works; seconds waited, or an error with the log."""
    started = time.monotonic()
    while time.monotonic() - started < PG_READY_TIMEOUT:
        if await database_answers(layout.database_url, timeout=3.0):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise LocalStackError(
        f"PostgreSQL did not accept {layout.database_url} within {PG_READY_TIMEOUT:.0f} s; "
        f"end of {layout.pg_log}:\n{tail(_read_log(layout.pg_log))}"
    )


def _stop_postgres(layout: LocalLayout, echo: Echo) -> bool:
    """Stop the cluster in this folder (`pg_ctl stop -m fast`); True when it ran."""
    pid = postgres_pid(layout)
    if pid is None:
        return False
    bin_dir = _pg_bin_dir(layout, echo)
    runner = _pg_runner()
    echo(f"stopping PostgreSQL (pid {pid})")
    started = time.monotonic()
    _run(
        runner.command(
            [str(bin_dir / "pg_ctl"), "-D", str(layout.pg_data), "-m", "fast", "-w", "stop"]
        ),
        what="pg_ctl stop",
        cwd=layout.pg_dir,
    )
    echo(f"PostgreSQL stopped in {time.monotonic() - started:.1f} s")
    return True


# ----------------------------------------------------------------------- public API


def status(layout: LocalLayout | None = None) -> StackStatus:
    """Ask both servers whether they answer and who started them."""
    layout = layout or LocalLayout.from_env()

    async def probe() -> tuple[bool, bool]:
        kafka_ok, pg_ok = await asyncio.gather(
            kafka_answers(layout.kafka_bootstrap), database_answers(layout.database_url)
        )
        return kafka_ok, pg_ok

    kafka_ok, pg_ok = run_async(probe)
    return _snapshot(layout, kafka_ok, pg_ok)


def _snapshot(layout: LocalLayout, kafka_ok: bool, pg_ok: bool) -> StackStatus:
    """Build a StackStatus from probe results and the pid records."""
    k_pid = kafka_pid(layout)
    p_pid = postgres_pid(layout)
    return StackStatus(
        kafka=ComponentStatus(
            "Kafka",
            layout.kafka_bootstrap,
            kafka_ok,
            k_pid,
            external=kafka_ok and k_pid is None,
            log=layout.kafka_log,
        ),
        postgres=ComponentStatus(
            "PostgreSQL",
            f"127.0.0.1:{layout.pg_port}",
            pg_ok,
            p_pid,
            external=pg_ok and p_pid is None,
            log=layout.pg_log,
        ),
        kafka_bootstrap=layout.kafka_bootstrap,
        database_url=layout.database_url,
    )


def up(
    *,
    kafka: bool = True,
    postgres: bool = True,
    layout: LocalLayout | None = None,
    echo: Echo = say,
) -> StackStatus:
    """Start what does not answer yet (Kafka, PostgreSQL), wait for it, create the topics."""
    layout = layout or LocalLayout.from_env()
    before = status(layout)
    need_kafka = kafka and not before.kafka.answering
    need_pg = postgres and not before.postgres.answering
    if not need_kafka and not need_pg:
        names = [
            f"{c.name} on {c.address}"
            for wanted, c in ((kafka, before.kafka), (postgres, before.postgres))
            if wanted
        ]
        verb = "answers" if len(names) == 1 else "answer"
        echo(" and ".join(names) + f" already {verb}: nothing to start")
        if kafka:
            run_async(lambda: _topics(layout.kafka_bootstrap))
        return replace(before, already_running=True)

    started: list[str] = []
    with _stack_lock(layout, echo):
        # Someone else may have started things while we waited for the lock.
        again = status(layout)
        need_kafka = kafka and not again.kafka.answering
        need_pg = postgres and not again.postgres.answering
        process = None
        if need_kafka:
            # The download and formatting are not part of the readiness timeout.
            _prepare_kafka(layout, echo)
            process = _launch_kafka(layout, echo)
            started.append("kafka")
        if need_pg:
            # Runs while the broker boots: the two start in parallel.
            _start_postgres(layout, echo)
            waited = run_async(lambda: _wait_for_database(layout))
            echo(f"PostgreSQL answers on 127.0.0.1:{layout.pg_port} ({waited:.1f} s)")
            started.append("postgres")
        if process is not None:
            launched = process
            waited = run_async(lambda: _wait_for_kafka(layout, launched, echo))
            echo(f"Kafka answers on {layout.kafka_bootstrap} ({waited:.1f} s)")
        if kafka:
            run_async(lambda: _topics(layout.kafka_bootstrap))
            echo("topics ready: " + ", ".join(_all_topics()))
    return replace(status(layout), started=tuple(started))


async def _topics(bootstrap: str) -> None:
    from shared.topics import ensure_topics

    await ensure_topics(bootstrap)


def _all_topics() -> tuple[str, ...]:
    from shared.topics import ALL_TOPICS

    return ALL_TOPICS


def down(layout: LocalLayout | None = None, echo: Echo = say) -> tuple[str, ...]:
    """Stop what `up()` started from this folder, and nothing else; return what stopped."""
    layout = layout or LocalLayout.from_env()
    if not layout.root.is_dir():
        echo(f"nothing to stop ({layout.root} does not exist)")
        return ()
    stopped: list[str] = []
    with _stack_lock(layout, echo):
        if _stop_kafka(layout, echo):
            stopped.append("kafka")
        if _stop_postgres(layout, echo):
            stopped.append("postgres")
    if not stopped:
        echo("nothing started by `caseline up` is running")
    after = status(layout)
    for component in (after.kafka, after.postgres):
        if component.answering and component.pid is None:
            echo(f"{component.name} on {component.address} is not ours: left alone")
    return tuple(stopped)


# ---------------------------------------------------------------- fault injection
#
# Recovery tests crash and restart the servers under running services. They act on one
# layout only, and only on processes that layout's `up()` started (the pid files), so a
# private stack in a temporary folder can be abused while the shared one keeps running.


def kill_kafka(layout: LocalLayout) -> int:
    """SIGKILL the broker this folder's `up()` started, as a crash would; return its pid."""
    pid = kafka_pid(layout)
    if pid is None:
        raise LocalStackError(f"no Kafka broker started from {layout.root} is running")
    # No lock: a crash does not wait for a `caseline up` at work, and SIGKILL is instant.
    _kill_and_wait([pid], f"Kafka (pid {pid})")
    # The listeners die with the process; wait anyway so a restart never finds them taken.
    _wait_until(
        lambda: not port_in_use(layout.kafka_port) and not port_in_use(layout.controller_port),
        KILL_TIMEOUT,
        f"ports {layout.kafka_port} and {layout.controller_port} to close",
    )
    layout.kafka_pid_file.unlink(missing_ok=True)
    return pid


def start_kafka(layout: LocalLayout, echo: Echo = say) -> float:
    """Start this folder's broker again on its existing data; seconds until it answers."""
    with _stack_lock(layout, echo):
        if kafka_pid(layout) is not None:
            raise LocalStackError(f"the Kafka broker of {layout.root} is already running")
        started = time.monotonic()
        # The storage is formatted already, so this only renders server.properties: the
        # broker reopens the same log.dirs (topics, offsets, its KRaft metadata) and
        # recovers the unflushed tail after a SIGKILL.
        _prepare_kafka(layout, echo)
        process = _launch_kafka(layout, echo)
        run_async(lambda: _wait_for_kafka(layout, process, echo))
        waited = time.monotonic() - started
    echo(f"Kafka answers again on {layout.kafka_bootstrap} ({waited:.1f} s)")
    return waited


PgStopMode = Literal["smart", "fast", "immediate"]


def restart_postgres(
    layout: LocalLayout, *, mode: PgStopMode = "immediate", echo: Echo = say
) -> float:
    """`pg_ctl restart -m <mode>` on this folder's cluster; seconds until caseline logs in."""
    pid = postgres_pid(layout)
    if pid is None:
        raise LocalStackError(f"no PostgreSQL cluster started from {layout.root} is running")
    with _stack_lock(layout, echo):
        bin_dir = _pg_bin_dir(layout, echo)
        runner = _pg_runner()
        echo(f"restarting PostgreSQL (pid {pid}, -m {mode})")
        started = time.monotonic()
        _run(
            runner.command(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(layout.pg_data),
                    # Without -l the new server would write to our pipe and keep it open,
                    # and waiting for pg_ctl's output would never end.
                    "-l",
                    str(layout.pg_log),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    str(int(PG_READY_TIMEOUT)),
                    "restart",
                ]
            ),
            what="pg_ctl restart",
            cwd=layout.pg_dir,
        )
        # pg_ctl -w returns once the server accepts connections; after -m immediate it
        # first replays the WAL, so wait for the real login, not just the socket.
        run_async(lambda: _wait_for_database(layout))
        waited = time.monotonic() - started
    echo(f"PostgreSQL answers again on 127.0.0.1:{layout.pg_port} ({waited:.1f} s)")
    return waited


def kill_postgres(layout: LocalLayout) -> int:
    """SIGKILL this folder's postmaster, as a crash would; return its pid once all is gone."""
    pid = postgres_pid(layout)
    if pid is None:
        raise LocalStackError(f"no PostgreSQL cluster started from {layout.root} is running")
    # Collected before the kill: afterwards the children belong to init.
    children = _child_pids(pid)
    # The children (backends, checkpointer, walwriter...) outlive the postmaster until they
    # notice it died; while one still holds the old shared memory a new postmaster refuses
    # to start, so wait for all of them, not only for the port.
    _kill_and_wait([pid], f"the postmaster (pid {pid})")
    _wait_for_exit(children, "PostgreSQL's server processes")
    _wait_until(
        lambda: not port_in_use(layout.pg_port),
        KILL_TIMEOUT,
        f"port {layout.pg_port} to close",
    )
    # postmaster.pid stays behind, as after a real crash: pg_ctl start and the postmaster
    # see that its pid is dead and take it over.
    return pid


def start_postgres(layout: LocalLayout, echo: Echo = say) -> float:
    """Start this folder's cluster (after a kill or `down()`); seconds until caseline logs in."""
    with _stack_lock(layout, echo):
        started = time.monotonic()
        _start_postgres(layout, echo)
        run_async(lambda: _wait_for_database(layout))
        waited = time.monotonic() - started
    echo(f"PostgreSQL answers on 127.0.0.1:{layout.pg_port} ({waited:.1f} s)")
    return waited


def ppid_from_stat(text: str) -> int | None:
    """The parent pid in the text of /proc/<pid>/stat (the command may hold spaces and ')')."""
    fields = text.rsplit(")", 1)[-1].split()
    # After the command come the state, then the parent pid.
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1])


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
