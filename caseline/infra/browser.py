"""Debian's chromium for the browser tests: found on the machine, or apt-installed on demand.

Playwright cannot download its own browsers here, so the timeline page's end-to-end test
drives the distribution's `chromium` package through `executable_path`. Like PostgreSQL
(`caseline.infra.postgres`), it is installed with apt-get when missing and we are root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from caseline.infra.layout import Echo, LocalStackError
from caseline.infra.system import _run

CANDIDATES = ("chromium", "chromium-browser")
"""The names Debian's and Ubuntu's packages put on PATH."""


def find_chromium() -> Path | None:
    """The chromium executable on PATH, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def ensure_chromium(echo: Echo = print) -> Path:
    """The chromium executable, installing Debian's `chromium` package first when missing
    (root only; otherwise say how to install it)."""
    found = find_chromium()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise LocalStackError(
            "chromium is not installed: install Debian's package "
            "(`sudo apt-get install -y chromium`) for the browser tests"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    echo("chromium is not installed: installing Debian's chromium package (apt-get)")
    _run(["apt-get", "update"], what="apt-get update", env=env)
    _run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        what="installing chromium",
        env=env,
    )
    installed = find_chromium()
    if installed is None:
        raise LocalStackError("apt-get installed chromium but no chromium is on PATH")
    return installed
