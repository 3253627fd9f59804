"""structlog set-up: JSON lines on standard error, configured once.

Health data must never reach a log line. Events and bodies are never logged whole; as a second
guard, any key named like a protected field is replaced before rendering.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

REDACTED_KEYS = frozenset({
    "identity_code", "icd_chapter", "b_statement_on", "days_used", "answers", "scores",
    "summary", "question", "answer", "text", "reason", "body",
})  # fmt: skip


def redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


class _CurrentStderr:
    """Writes to whatever sys.stderr is now, so a logger cached on first use never holds a stream
    that was swapped out and closed since (pytest's capture, a daemon's redirect)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),
        cache_logger_on_first_use=True,
    )
