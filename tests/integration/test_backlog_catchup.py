"""A day's backlog: a relay restarted on it publishes it in order, and a consumer that fell
behind by all of it applies every event once, in each case's order (`caseline bench
backlog` runs the same at 100k events and prints the rates and memory)."""

from __future__ import annotations

from caseline.bench_backlog import render_backlog, run_backlog_benchmark


async def test_a_relay_and_a_consumer_catch_up_on_a_backlog_in_order_and_once(
    database_url: str, kafka_bootstrap: str
) -> None:
    lines: list[str] = []

    figures = await run_backlog_benchmark(
        database_url, kafka_bootstrap, events=6_000, progress=lines.append
    )

    assert figures.on_topic == figures.distinct_on_topic == 6_000
    assert figures.out_of_commit_order == 0
    assert figures.applied == 6_000
    assert figures.out_of_stream_order == 0
    assert figures.held
    # Both read and settle a batch at a time: catching up does not hold the backlog.
    assert figures.relay_peak_mib - figures.rss_before_mib < 150
    assert figures.consumer_peak_mib - figures.rss_before_mib < 150
    report = render_backlog(figures)
    assert "applied once in order: yes" in report
    assert any("backlog of 6,000 events" in line for line in lines)
