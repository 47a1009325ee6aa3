"""Which services the network has: found in the `services/` folder, never listed in the kit.

A service is a package `services/<name>/` with a `bootstrap.py` (its composition root, with
`build(settings)`); one whose name starts with `_` (the template a new service is copied
from) is not a service. So adding a service is adding its folder: `caseline serve` offers
it and `caseline up` creates its topic without an edit anywhere else.

The services the architecture plans (their topics exist before their code lands, so the
network's producers and consumers can rely on them) are listed here, beside the ones found.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shared.envelope import is_service_name
from shared.topics import topics_for

PLANNED_SERVICES = ("intake", "careplan", "monitoring", "closure", "directory")
"""The publishing services the architecture names; each has a topic from the start."""

CONSUMING_ONLY = ("projections",)
"""Planned services that read every topic and publish none."""


def services_root() -> Path:
    """The `services` package's folder, wherever the project is installed."""
    spec = importlib.util.find_spec("services")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the services package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def runnable_services(root: Path | None = None) -> tuple[str, ...]:
    """The services that can run now: `services/<name>/bootstrap.py`, `_`-names left out."""
    folder = root or services_root()
    return tuple(
        sorted(
            path.name
            for path in folder.iterdir()
            if path.is_dir()
            and not path.name.startswith(("_", "."))
            and is_service_name(path.name)
            and (path / "bootstrap.py").is_file()
        )
    )


def publishing_services(root: Path | None = None) -> tuple[str, ...]:
    """The planned publishing services, then every other runnable one (each has a topic)."""
    found = [
        name
        for name in runnable_services(root)
        if name not in PLANNED_SERVICES and name not in CONSUMING_ONLY
    ]
    return (*PLANNED_SERVICES, *found)


def all_topics(root: Path | None = None) -> tuple[str, ...]:
    """Every topic the network uses: one per publishing service, then the dead letters."""
    return topics_for(publishing_services(root))
