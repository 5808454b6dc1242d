"""Logging: plain lines for people, or one JSON object per line
(``PARLEY_LOG_FORMAT=json``) for machines, with the request's correlation id."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
from datetime import UTC, datetime

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
"""Set per HTTP request (X-Correlation-ID or a new one); logged with every line."""

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


_TOKEN = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s\"]+")


def redact(text: str) -> str:
    """The text with every ``token=`` query value replaced by ``***``."""
    return _TOKEN.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Keeps tokens out of logs: uvicorn's access log prints the full path,
    query string included, and WebSocket clients may pass ``?token=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (cid := correlation_id.get()) is not None:
            line["correlation_id"] = cid
        line |= {
            k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "color_message"
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def json_logs() -> bool:
    return os.environ.get("PARLEY_LOG_FORMAT", "").strip().lower() == "json"


def configure(level: int = logging.WARNING) -> None:
    """Set up the root logger from ``PARLEY_LOG_FORMAT`` (``text`` or ``json``)."""
    handler = logging.StreamHandler()
    if json_logs():
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
