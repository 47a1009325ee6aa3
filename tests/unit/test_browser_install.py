"""The browser tests find Debian's chromium on PATH, under either name its packages use."""

from __future__ import annotations

from pathlib import Path

import pytest

from caseline.infra.browser import find_chromium


@pytest.mark.parametrize("name", ["chromium", "chromium-browser"])
def test_chromium_is_found_on_path_under_the_names_debian_and_ubuntu_give_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    executable = tmp_path / name
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_chromium() == executable


def test_no_chromium_on_path_is_none_so_it_is_installed_or_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_chromium() is None
