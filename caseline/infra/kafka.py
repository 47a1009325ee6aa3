"""The local Kafka broker: jars from Maven Central, KRaft storage, start, stop, crash."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

from caseline.infra.layout import (
    DEPLOY_DIR,
    KAFKA_JVM_OPTIONS,
    KAFKA_READY_TIMEOUT,
    KAFKA_STOP_TIMEOUT,
    KAFKA_VERSION,
    KILL_TIMEOUT,
    Echo,
    LocalLayout,
    LocalStackError,
    is_cluster_id,
    new_cluster_id,
    pom_digest,
    render_server_properties,
    say,
    tail,
)
from caseline.infra.system import (
    _alive,
    _cmdline,
    _kill_and_wait,
    _read_log,
    _read_pid,
    _run,
    _stack_lock,
    _terminate,
    _wait_until,
    kafka_answers,
    port_in_use,
    run_async,
)

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
