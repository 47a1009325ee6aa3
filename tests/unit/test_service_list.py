"""The tests' one list of services comes from what `services/` holds, never from a list of names."""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.harness import SERVICES_DIR, landed_services
from tests.integration.service_contract import ServiceContract


def test_a_service_is_a_package_with_a_bootstrap_and_a_template_is_not(tmp_path: Path) -> None:
    for folder, files in {
        "alpha": ("__init__.py", "bootstrap.py"),
        "beta": ("__init__.py", "bootstrap.py"),
        "_template": ("__init__.py", "bootstrap.py"),
        "careplan": ("__init__.py",),
    }.items():
        (tmp_path / folder).mkdir()
        for name in files:
            (tmp_path / folder / name).write_text("")

    assert landed_services(tmp_path) == ("alpha", "beta")


def test_the_services_that_have_landed_are_found_in_the_repository() -> None:
    found = landed_services()

    assert {"intake", "directory"} <= set(found)
    assert all((SERVICES_DIR / name / "bootstrap.py").is_file() for name in found)
    assert not any(name.startswith("_") for name in found)


def test_every_landed_service_keeps_the_api_contract_in_a_test_of_its_own() -> None:
    missing: list[str] = []
    for name in landed_services():
        module_name = f"tests.integration.{name}.test_{name}_contract"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            missing.append(f"{name}: no module {module_name}")
            continue
        contracts = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, ServiceContract)
            and value is not ServiceContract
            and getattr(value, "service_name", None) == name
        ]
        if not contracts:
            missing.append(f"{name}: no ServiceContract subclass for {name!r} in {module_name}")
    assert not missing, missing
