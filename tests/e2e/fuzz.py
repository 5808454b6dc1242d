"""A property-based fuzzer over the served OpenAPI schema (schemathesis +
Hypothesis), bounded in time, that tallies every answer instead of stopping at
the first bad one.

Every operation is fuzzed in rounds, each with both of schemathesis' modes:
*positive* (data the schema allows) and *negative* (data it forbids: wrong
types, out-of-range numbers, strings where UUIDs go, ...). Each case also gets
a hostile ``X-Correlation-ID`` header, and half of the cases are aimed at a
real conversation (every ``conversation_id`` in the path, query or body) so
they reach the handlers instead of stopping at 404.

What counts as a failure: any status of 500 or more, except 503
``not_caught_up`` (the documented read-your-writes answer "the read models
have not reached ``min_position`` yet", which a fuzzer asking for random
positions gets by design), and any request the server drops without answering.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.generation.case import Case

EXAMPLES_PER_RUN = 10
"""Cases per operation, mode and round; rounds repeat until the budget is spent."""
MAX_WAIT = 0.05
"""Valid ``wait`` values are cut to this, so random ``min_position``s don't eat the budget."""

# Header values a client could send: any byte but CR/LF (NUL and non-UTF-8
# included), not starting with whitespace (HTTP would strip it).
HEADER_VALUES = st.binary(max_size=60).map(
    lambda value: value.replace(b"\r", b"").replace(b"\n", b"").lstrip(b" \t\x0b\x0c")
)


@dataclass
class Tally:
    """What one fuzzing run sent and got back."""

    operations: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    not_caught_up: int = 0
    """503 ``not_caught_up`` answers (allowed: see the module's docstring)."""

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{len(self.operations)} operations, {self.requests} requests, "
            f"statuses {{{statuses}}} (503 not_caught_up: {self.not_caught_up}), "
            f"failures {len(self.failures)}"
        )


def _is_not_caught_up(response: requests.Response) -> bool:
    try:
        return response.status_code == 503 and response.json().get("code") == "not_caught_up"
    except ValueError:
        return False


def _aim(case: Case, conversation_id: str) -> None:
    """Point every ``conversation_id`` of the case at a real conversation."""
    if "conversation_id" in case.path_parameters:
        case.path_parameters["conversation_id"] = conversation_id
    if "conversation_id" in case.query:
        case.query["conversation_id"] = conversation_id
    if isinstance(case.body, dict) and "conversation_id" in case.body:
        case.body["conversation_id"] = conversation_id


def _bound_wait(case: Case) -> None:
    wait = case.query.get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 <= wait <= 10:
        case.query["wait"] = min(wait, MAX_WAIT)
    elif "min_position" in case.query and "wait" not in case.query:
        case.query["wait"] = MAX_WAIT


def _modes(operation: Any) -> tuple[GenerationMode, ...]:
    """Negative mode needs something to break: a parameter or a body."""
    parts = (operation.path_parameters, operation.query, operation.headers, operation.body)
    if any(len(part) for part in parts):
        return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return (GenerationMode.POSITIVE,)


def _describe(case: Case, tag: bytes) -> str:
    """The request as curl, and the X-Correlation-ID it carried."""
    return f"{case.as_curl_command()} (X-Correlation-ID: {tag!r})"


def fuzz(
    base_url: str,
    auth: dict[str, str],
    conversation_id: str,
    *,
    seconds: float,
    examples: int = EXAMPLES_PER_RUN,
) -> Tally:
    """Fuzz every operation of ``{base_url}/schema/openapi.json`` as the caller
    of ``auth`` for about ``seconds`` (at least one full round)."""
    session = requests.Session()
    raw = session.get(f"{base_url}/schema/openapi.json", timeout=10).json()
    operations = [
        result.ok() for result in schemathesis.openapi.from_dict(raw).get_all_operations()
    ]
    tally = Tally()
    deadline = time.monotonic() + seconds
    stop_at = math.inf  # the first round runs in full: every operation is fuzzed
    while time.monotonic() < deadline:
        run = Run(session, base_url, auth, conversation_id, stop_at, tally)
        for operation in operations:
            tally.operations.add(f"{operation.method.upper()} {operation.path}")
            for mode in _modes(operation):
                run.send_cases(operation, mode, examples)
        stop_at = deadline
    return tally


@dataclass
class Run:
    """Sends one operation's cases in one mode, as one caller."""

    session: requests.Session
    base_url: str
    auth: dict[str, str]
    conversation_id: str
    stop_at: float
    tally: Tally

    def send_cases(self, operation: Any, mode: GenerationMode, examples: int) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=mode), aim=st.booleans(), tag=HEADER_VALUES
        )
        def send(case: Case, aim: bool, tag: bytes) -> None:
            if time.monotonic() < self.stop_at:
                self.send(case, aim, tag)

        # Unsatisfiable: no invalid value exists for what the operation takes.
        with contextlib.suppress(Unsatisfiable):
            send()

    def send(self, case: Case, aim: bool, tag: bytes) -> None:
        if aim:
            _aim(case, self.conversation_id)
        _bound_wait(case)
        headers: dict[str, Any] = {**self.auth, "X-Correlation-ID": tag}
        tally = self.tally
        tally.requests += 1
        try:
            response = case.call(
                base_url=self.base_url, session=self.session, headers=headers, timeout=30
            )
        except requests.RequestException as error:
            tally.failures.append(f"no answer ({error!r}): {_describe(case, tag)}")
            return
        tally.statuses[response.status_code] += 1
        if _is_not_caught_up(response):
            tally.not_caught_up += 1
        elif response.status_code >= 500:
            tally.failures.append(
                f"{response.status_code} {response.text[:300]}\n  {_describe(case, tag)}"
            )
