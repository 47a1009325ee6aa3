"""Runs careplan as its own process on a test's topics: `python -m ... PORT SCHEMA CAREPLAN INTAKE
DIRECTORY MONITORING` (the last four are topics).

`caseline serve careplan` always reads the production topics; a test that kills a careplan
process mid-run needs one on its own topics, given here as arguments.
"""

from __future__ import annotations

import sys

import uvicorn

from services.careplan.bootstrap import Topics, build
from shared.settings import load_settings


def main() -> None:
    """Serve careplan on 127.0.0.1:PORT in SCHEMA, on the topics named after them."""
    port, schema, careplan, intake, directory, monitoring = sys.argv[1:7]
    settings = load_settings(service="careplan", db_schema=schema, relay_poll_seconds=0.05)
    topics = Topics(careplan=careplan, intake=intake, directory=directory, monitoring=monitoring)
    uvicorn.run(build(settings, topics=topics), host="127.0.0.1", port=int(port), log_config=None)


if __name__ == "__main__":
    main()
