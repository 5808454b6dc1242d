"""JSON logs: one object per line, with the correlation id and the extras."""

from __future__ import annotations

import json
import logging

from parley.logs import JsonFormatter, correlation_id


def test_a_json_line_carries_the_correlation_id_and_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "parley.commands", "levelname": "INFO", "msg": "command", "command": "SendMessage"}
    )
    token = correlation_id.set("c0ffee")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        correlation_id.reset(token)
    assert line["message"] == "command" and line["level"] == "info"
    assert (line["correlation_id"], line["command"]) == ("c0ffee", "SendMessage")


def test_without_a_request_there_is_no_correlation_id() -> None:
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "WARNING", "msg": "hello %s", "args": ("you",)}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello you" and "correlation_id" not in line
