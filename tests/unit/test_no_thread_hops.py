"""No request hops to a worker thread in the kit's plumbing.

FastAPI runs a plain-function dependency or route in a worker thread: a hop to another thread
and back on every request. Every route of every service, and each of its dependencies, is a
coroutine function.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from caseline.catalog import runnable_services
from shared.settings import load_settings


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            # FastAPI keeps an included router's routes in the router itself.
            yield from _api_routes(list(included.routes))


def _dependencies(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependencies(sub)


def _is_async(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - a security scheme is a callable object
    )


@pytest.mark.parametrize("service", runnable_services())
def test_every_route_and_dependency_of_a_service_runs_on_the_event_loop(service: str) -> None:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    app = bootstrap.build(load_settings(service=service, development=True))
    routes = list(_api_routes(list(app.routes)))
    assert routes, f"{service} serves no routes"

    plain = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in (route.endpoint, *_dependencies(route.dependant))
        if call is not None and not _is_async(call)
    }

    assert not plain, f"these run in a worker thread on every request: {sorted(plain)}"
