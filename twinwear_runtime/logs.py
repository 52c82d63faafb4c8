"""structlog JSON logs. Ids bound with ``structlog.contextvars`` appear on every line."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure_logging(service: str, level: str = "info", stream: TextIO = sys.stdout) -> structlog.stdlib.BoundLogger:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"TWINWEAR_LOG_LEVEL must be a level name such as info, got {level!r}")
    # Libraries (kafka-python, urllib3) log through stdlib logging; keep them quiet but visible.
    logging.basicConfig(
        stream=sys.stderr, level=max(numeric, logging.WARNING), format="%(name)s %(levelname)s %(message)s"
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    return structlog.get_logger()
