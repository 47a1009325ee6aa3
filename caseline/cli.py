"""The `caseline` command: local stack, services, tokens, auditors' tools, benchmarks, demo."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from caseline.asyncapi import asyncapi_command
from caseline.enroll_command import enroll_command
from caseline.history import history_command
from caseline.infra.commands import register as register_infra_commands
from caseline.replay_command import replay_command
from caseline.token_command import token
from caseline.verify_command import verify_command

if TYPE_CHECKING:
    from shared.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="caseline: event-sourced case management for multi-agency welfare networks.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _commands() -> None:
    """Keep `caseline` a group of subcommands even while it has only one."""


app.command("token")(token)
app.command("enroll")(enroll_command)
app.command("verify")(verify_command)
app.command("history")(history_command)
app.command("replay")(replay_command)
app.command("asyncapi")(asyncapi_command)
register_infra_commands(app)  # up, down, status: the local stack

bench_app = typer.Typer(
    help="Benchmarks that print figures beside a raw baseline measured in the same run."
)
app.add_typer(bench_app, name="bench")


def _bench(
    name: str, measure: Callable[[Settings, Callable[[str], None]], Coroutine[Any, Any, T]]
) -> T:
    """Run one benchmark on the configured stack, its progress on stderr; exit 1 when it
    cannot run."""
    import asyncio

    import asyncpg
    from aiokafka.errors import KafkaError

    from caseline.bench_peer import PeerMissing
    from shared.errors import CaselineError
    from shared.logging import configure_logging
    from shared.settings import load_settings

    settings = load_settings(log_level="WARNING")
    configure_logging(settings)
    try:
        return asyncio.run(measure(settings, lambda line: typer.echo(line, err=True)))
    except (CaselineError, PeerMissing) as e:
        typer.echo(f"caseline bench {name}: {e}", err=True)
        raise typer.Exit(1) from e
    except (asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError, OSError) as e:
        # PostgreSQL or Kafka went away mid-run: say which, without a traceback.
        typer.echo(
            f"caseline bench {name}: the stack failed during the run "
            f"({type(e).__name__}: {e}); no figures",
            err=True,
        )
        raise typer.Exit(1) from e


@bench_app.command("kit")
def bench_kit(
    events: int = typer.Option(5000, min=100, help="Events per measurement."),
    batch: int = typer.Option(100, min=2, help="Events per call in the batched append."),
) -> None:
    """Event-store append rate (single and batched) and relay throughput, with baselines."""
    from caseline.bench import render, run_kit_benchmark

    figures = _bench(
        "kit",
        lambda settings, progress: run_kit_benchmark(
            settings.database_url,
            settings.kafka_bootstrap_servers,
            events=events,
            batch=batch,
            progress=progress,
        ),
    )
    typer.echo(render(figures))


@bench_app.command("peer")
def bench_peer(
    events: int = typer.Option(5000, min=100, help="Events per measurement."),
    batch: int = typer.Option(100, min=2, help="Events per call in the batched append."),
) -> None:
    """The event store beside the eventsourcing library and a bare asyncpg floor."""
    from caseline.bench import render
    from caseline.bench_peer import machine, run_peer_benchmark

    figures = _bench(
        "peer",
        lambda settings, progress: run_peer_benchmark(
            settings.database_url, events=events, batch=batch, progress=progress
        ),
    )
    typer.echo(f"machine: {machine()}, PostgreSQL {figures.postgres}")
    typer.echo(render([figures.single, figures.single_floor, figures.batched, figures.replay]))


@bench_app.command("backlog")
def bench_backlog(
    events: int = typer.Option(100_000, min=100, help="Events in the backlog."),
) -> None:
    """A day's backlog: a relay and a consumer catch up on it; rates, memory and order."""
    from caseline.bench_backlog import render_backlog, run_backlog_benchmark

    figures = _bench(
        "backlog",
        lambda settings, progress: run_backlog_benchmark(
            settings.database_url,
            settings.kafka_bootstrap_servers,
            events=events,
            progress=progress,
        ),
    )
    typer.echo(render_backlog(figures))
    if not figures.held:
        raise typer.Exit(1)


def _whole_numbers(text: str, option: str) -> list[int]:
    """A comma-separated option's numbers, or a usage error naming the option."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise typer.BadParameter(
            "a comma-separated list of whole numbers", param_hint=option
        ) from e


@bench_app.command("pipeline")
def bench_pipeline(
    rates: str = typer.Option("100,500,1000", help="Commands offered per second, in turn."),
    seconds: float = typer.Option(10.0, min=1.0, help="How long each rate is offered."),
) -> None:
    """Commands offered over HTTP at fixed rates to the six running services:
    command-to-projection latency p50/p99 per rate, the highest rate held with p99 < 200 ms,
    and each service's peak resident memory."""
    from caseline.bench_pipeline import render_pipeline, run_pipeline_benchmark

    offered = _whole_numbers(rates, "--rates")
    if not offered or min(offered) < 1:
        raise typer.BadParameter("at least one rate, each 1 or more", param_hint="--rates")
    figures = _bench(
        "pipeline",
        lambda settings, progress: run_pipeline_benchmark(
            settings, rates=offered, seconds=seconds, progress=progress
        ),
    )
    typer.echo(render_pipeline(figures))


@bench_app.command("scale")
def bench_scale(
    cases: str = typer.Option(
        "500,1000,2000", help="Sizes the network grows to, in turn (e.g. 1000,10000,100000)."
    ),
) -> None:
    """What one more case costs as the history grows: service and PostgreSQL CPU seconds and
    database bytes per case, for each step from one size to the next."""
    from caseline.bench_scale import render_scale, run_scale_benchmark

    sizes = _whole_numbers(cases, "--cases")
    if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 10:
        raise typer.BadParameter("growing sizes, the first at least 10", param_hint="--cases")
    steps = _bench(
        "scale",
        lambda settings, progress: run_scale_benchmark(settings, sizes=sizes, progress=progress),
    )
    typer.echo(render_scale(steps))


@app.command("demo")
def demo(
    size: str = typer.Option(
        "full",
        help="The scale phase's network: full (20 agencies, 80 case managers, 2,000 cases) "
        "or small (6 agencies, 12 case managers, 120 cases; the tests' size).",
    ),
) -> None:
    """Start the stack if needed; walk cases through the kit and every service, then a
    network at scale; print a report."""
    from caseline.demo import demo_command
    from caseline.network_scale import SIZES

    if size not in SIZES:
        raise typer.BadParameter(f"must be one of {', '.join(SIZES)}", param_hint="--size")
    demo_command(size)


@app.command("chaos")
def chaos(
    cases: int = typer.Option(
        60, min=10, help="Cases started at least; more start until every fault has happened."
    ),
    agencies: int = typer.Option(4, min=2, help="Agencies in the network."),
    every: float = typer.Option(3.0, min=0.5, help="Seconds between two faults."),
    seed: int | None = typer.Option(None, help="Seed of the fault order (printed when not given)."),
) -> None:
    """Drive cases through every stage on a private Kafka and PostgreSQL while each service
    is SIGKILLed twice and the broker and database restart; then check nothing acknowledged
    was lost, nothing applied twice, the DLQ holds only the poison published, and verify
    holds. Exits 1 when a check did not hold."""
    from caseline.chaos import ChaosOptions, chaos_command

    options = ChaosOptions(cases=cases, agencies=agencies, every=every, seed=seed)
    raise typer.Exit(chaos_command(options))


@app.command("serve")
def serve(
    service: str = typer.Argument(..., help="A service in services/ (directory, intake, ...)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Run one service: its HTTP API, its relay and its consumers, until stopped."""
    import importlib

    import uvicorn

    from caseline.catalog import CONSUMING_ONLY, PLANNED_SERVICES, runnable_services
    from shared.errors import InsecureConfiguration
    from shared.settings import load_settings

    runnable = runnable_services()
    if service not in runnable:
        if service in (*PLANNED_SERVICES, *CONSUMING_ONLY):
            typer.echo(f"caseline serve: the {service} service is not built yet", err=True)
            raise typer.Exit(1)
        raise typer.BadParameter(f"must be one of {', '.join(runnable)}", param_hint="SERVICE")
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings = load_settings(service=service)
    try:
        built = bootstrap.build(settings)
    except InsecureConfiguration as e:
        typer.echo(f"caseline serve: {e}", err=True)
        raise typer.Exit(2) from e
    # log_config=None: uvicorn keeps the logging that the service's lifespan configures.
    uvicorn.run(built, host=host, port=port, log_config=None)


@app.command("relay")
def relay(
    service: str = typer.Argument(..., help="The service whose events table to publish."),
    schema: str | None = typer.Option(None, help="Its schema, when not named after the service."),
    topic: str | None = typer.Option(
        None, help="Topic to publish to (default caseline.<service>.v1)."
    ),
    batch_size: int | None = typer.Option(
        None, min=1, help="Events per batch (default: CASELINE_RELAY_BATCH_SIZE, 500)."
    ),
) -> None:
    """Publish one service's committed events to Kafka in commit order until stopped."""
    import asyncio
    import signal

    from caseline.catalog import publishing_services
    from shared.errors import CaselineError
    from shared.logging import configure_logging
    from shared.relay import run_relay
    from shared.settings import load_settings

    publishing = publishing_services()
    if service not in publishing:
        raise typer.BadParameter(f"must be one of {', '.join(publishing)}", param_hint="SERVICE")
    settings = load_settings(service=service)
    configure_logging(settings)

    async def until_signalled() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_relay(
            settings.database_url,
            settings.kafka_bootstrap_servers,
            service,
            schema=schema,
            topic=topic,
            batch_size=batch_size or settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            stop=stop,
        )

    try:
        asyncio.run(until_signalled())
    except CaselineError as e:
        typer.echo(f"caseline relay: {e}", err=True)
        raise typer.Exit(1) from e


def main() -> None:
    """Entry point of the `caseline` console script."""
    app()


if __name__ == "__main__":
    main()
