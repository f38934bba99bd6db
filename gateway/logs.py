"""Structured logs: JSON lines through structlog, configured once by the entry point.

structlog's events and every stdlib record (uvicorn, httpx, asyncio, litellm, Python
warnings) go through one handler and one ``ProcessorFormatter``, so each line a
running gateway writes is a JSON object, and each carries the request id bound while
serving a request (gateway/middleware.py).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

import structlog

# Libraries that narrate every call at INFO: httpx logs each request's full URL, query
# string (``?api_key=...``) included; litellm and exporters repeat what our lines say.
_QUIET_LIBRARIES = ("httpx", "httpcore", "LiteLLM", "litellm", "opentelemetry", "urllib3", "gguf")
# With its collector down, the OTLP exporter logs each retry of each batch (a dozen long
# lines a minute); one line per interval says the same.
_REPEATING_LIBRARIES = ("opentelemetry.exporter",)
_REPEAT_INTERVAL_S = 300.0


def configure_logging(
    level: str = "info", json_lines: bool = True, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging to stderr (or ``stream``), as JSON lines or for
    a console."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(OnceAWhile(_REPEATING_LIBRARIES, _REPEAT_INTERVAL_S))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Libraries that configured their own handlers would print around the formatter.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", *_QUIET_LIBRARIES):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    # ``warnings.warn`` writes to stderr itself, as two plain lines; as a record it is JSON.
    logging.captureWarnings(True)


class OnceAWhile(logging.Filter):
    """Lets one record of each noisy library through per interval and counts the rest."""

    def __init__(self, prefixes: tuple[str, ...], interval_s: float) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record held back; the one let through says how many were."""
        prefix = next((p for p in self._prefixes if record.name.startswith(p)), None)
        if prefix is None:
            return True
        now = time.monotonic()
        with self._lock:
            last = self._last.get(prefix)
            if last is not None and now - last < self._interval_s:
                self._held[prefix] = self._held.get(prefix, 0) + 1
                return False
            self._last[prefix] = now
            held = self._held.pop(prefix, 0)
        note = f"{held} similar lines held back; " if held else ""
        record.msg = (
            f"{record.getMessage()} ({note}further {prefix} lines are held back "
            f"for {self._interval_s:.0f} s)"
        )
        record.args = ()
        return True
