"""Runs monitoring as its own process on a test's topics and calendar day:
`python -m tests.integration.monitoring.serve_monitoring PORT SCHEMA MONITORING INTAKE
CAREPLAN DIRECTORY TODAY`.

`caseline serve monitoring` reads the production topics and the real calendar; a test that
kills monitoring processes while their schedulers run needs them on its own topics and day.
"""

from __future__ import annotations

import sys
from datetime import date

import uvicorn

from services.monitoring.bootstrap import Topics, build
from shared.settings import load_settings


def main() -> None:
    """Serve monitoring on 127.0.0.1:PORT in SCHEMA, its scheduler passing every 0.2 s."""
    port, schema, monitoring, intake, careplan, directory, today = sys.argv[1:8]
    settings = load_settings(service="monitoring", db_schema=schema, relay_poll_seconds=0.05)
    topics = Topics(monitoring=monitoring, intake=intake, careplan=careplan, directory=directory)
    day = date.fromisoformat(today)
    app = build(settings, topics=topics, today=lambda: day, scheduler_seconds=0.2)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_config=None)


if __name__ == "__main__":
    main()
