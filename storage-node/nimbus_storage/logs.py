"""Log output for every Nimbus process (gateway, storage node, operator): text for people, or
one JSON object per line for log collectors (``--log-format json`` or ``$NIMBUS_LOG_FORMAT``).

A JSON line has ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message``, ``exception``
when there is one, and ``object`` (``{kind, namespace, name, uid}``) for the operator's
per-object logs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

FORMAT_ENV = "NIMBUS_LOG_FORMAT"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        reference = getattr(record, "k8s_ref", None)  # kopf's per-object loggers set it
        if isinstance(reference, dict):
            line["object"] = {
                key: reference[key]
                for key in ("kind", "namespace", "name", "uid")
                if reference.get(key)
            }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def default_format() -> str:
    return os.environ.get(FORMAT_ENV) or "text"


def configure_logging(level: str | int, log_format: str | None = None) -> None:
    """Log to stderr at ``level``, as text or JSON lines."""
    chosen = log_format or default_format()
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def add_format_argument(parser: Any) -> None:
    """``--log-format`` on an argparse parser (default: ``$NIMBUS_LOG_FORMAT`` or text)."""
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=default_format(),
        help=f"text, or one JSON object per line (default: ${FORMAT_ENV} or text)",
    )
