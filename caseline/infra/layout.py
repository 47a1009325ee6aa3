"""Where the local stack lives and how its state is read: folders, ports, statuses.

Pure helpers only (no process is started here), so the unit tests cover them without I/O.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import string
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

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


def ppid_from_stat(text: str) -> int | None:
    """The parent pid in the text of /proc/<pid>/stat (the command may hold spaces and ')')."""
    fields = text.rsplit(")", 1)[-1].split()
    # After the command come the state, then the parent pid.
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1])
