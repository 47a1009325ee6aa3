"""Structured logging: one pipeline for structlog and the standard library, set up at bootstrap."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from datetime import date, datetime
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from shared.settings import Settings

# These libraries may have put their own handlers on their loggers (uvicorn does, from its
# default log config); their records must reach the root handler instead, so that a
# service's output is one stream in one format.
_ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "aiokafka", "faststream")


class _CaselineHandler(logging.StreamHandler[TextIO]):
    """The root handler configure_logging owns; marked so that a second call replaces it."""


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Send structlog and stdlib records through one renderer; calling it again is harmless."""
    out = sys.stderr if stream is None else stream
    as_json = settings.log_format == "json" or (settings.log_format == "auto" and not out.isatty())
    # The same enrichment for structlog calls and for foreign (stdlib) records, so a line
    # from uvicorn or aiokafka carries the case being handled just as our own lines do.
    enrich: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *enrich,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Module-level loggers are often first used before bootstrap configures logging
        # (and tests reconfigure); a cached logger would keep the old pipeline forever.
        cache_logger_on_first_use=False,
    )
    renderers = _json_renderers() if as_json else _console_renderers(colors=out.isatty())
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*enrich, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _add_service(settings.service),
            *renderers,
        ],
    )
    handler = _CaselineHandler(out)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _CaselineHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in _ROUTED_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        # Some set their own level at import (faststream: INFO); the configured level rules.
        library_logger.setLevel(logging.NOTSET)
        library_logger.propagate = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger whose lines go through the pipeline configure_logging set up."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def bind_event_context(
    *,
    case_id: object = None,
    event_id: object = None,
    correlation_id: object = None,
    **ids: object,
) -> Mapping[str, Token[Any]]:
    """Add ids to every log line of the current task; returns tokens to undo it."""
    return structlog.contextvars.bind_contextvars(
        **_as_text(case_id=case_id, event_id=event_id, correlation_id=correlation_id, **ids)
    )


@contextmanager
def event_context(**ids: object) -> Iterator[None]:
    """Bind ids (case_id, event_id, correlation_id, ...) for a block, then restore the old ones."""
    tokens = structlog.contextvars.bind_contextvars(**_as_text(**ids))
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def _as_text(**ids: object) -> dict[str, str]:
    # Ids are often UUIDs; text keeps them readable on the console and plain in JSON.
    # None means "not known here", which is left out rather than logged as null.
    return {key: str(value) for key, value in ids.items() if value is not None}


def _add_service(service: str) -> Processor:
    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_renderers() -> list[Processor]:
    return [
        structlog.processors.format_exc_info,
        # "event" would be read as a domain event in this code base; collectors also
        # expect the human text under "message".
        structlog.processors.EventRenamer("message"),
        structlog.processors.JSONRenderer(default=_json_default),
    ]


def _console_renderers(*, colors: bool) -> list[Processor]:
    return [
        structlog.dev.ConsoleRenderer(
            colors=colors,
            # Rich tracebacks show local variables, which may hold decrypted personal data.
            exception_formatter=structlog.dev.plain_traceback,
        )
    ]
