"""The local PostgreSQL cluster: Debian's binaries, its own data folder, start, stop, crash."""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from caseline.infra.layout import (
    KILL_TIMEOUT,
    PG_ADMIN,
    PG_DATABASE,
    PG_PASSWORD,
    PG_READY_TIMEOUT,
    PG_ROLE,
    Echo,
    LocalLayout,
    LocalStackError,
    pick_pg_bin_dir,
    say,
    tail,
)
from caseline.infra.system import (
    _alive,
    _child_pids,
    _cmdline,
    _kill_and_wait,
    _read_log,
    _read_pid,
    _run,
    _stack_lock,
    _wait_for_exit,
    _wait_until,
    database_answers,
    port_in_use,
    run_async,
)

PgStopMode = Literal["smart", "fast", "immediate"]
"""How `pg_ctl` stops the server: `immediate` is a crash in all but name."""


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
