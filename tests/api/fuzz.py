"""Schemathesis over the whole OpenAPI, in a process of its own (test_schemathesis.py starts it):
generating requests costs CPU, and in the server's process it would starve the Temporal worker of
the GIL. Run by hand against a running API:

    .venv/bin/python -m tests.api.fuzz '{"spec": "http://127.0.0.1:8000/schema/openapi.json",
        "tokens": {"staff": "<token>"}, "cases": ["<case id>"]}'

For each token, every operation gets requests that fit its schema and requests that do not. Every
answer must conform to what the OpenAPI declares (status, content type, body, headers), none may
be a 5xx, a request that does not fit must be refused, and every error is problem+json. Half of
the requests aimed at a case name one of `cases`, so generated commands reach the journey's
validator and the aggregate, not only a 404.

Prints one JSON line: requests sent per token, statuses, seconds. A probe's 503 (`/ready` when
Temporal is slow to answer under this load) is counted apart: it is the probe's answer. Exits 1
on the first failure, with Hypothesis's smallest failing request (and a curl line to send it
again) on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casework.api.deps import SESSION_COOKIE

PROBLEM = "application/problem+json"
CREDENTIALS = ("Authorization", SESSION_COOKIE)
# Examples per operation and mode, by the token's name; CASEWORK_FUZZ_SCALE=10 for a longer run.
SCALE = int(os.environ.get("CASEWORK_FUZZ_SCALE", "1"))
BUDGET = {
    "staff": {GenerationMode.POSITIVE: 16 * SCALE, GenerationMode.NEGATIVE: 9 * SCALE},
    "coordinator": {GenerationMode.POSITIVE: 6 * SCALE, GenerationMode.NEGATIVE: 3 * SCALE},
}


def problem_json_for_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error is problem+json with the fields a client relies on."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM), f"{response.status_code} as {content_type!r}"
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["code"]
    assert problem["detail"]
    return True


STREAM_SECONDS = 0.5
"""How long a live stream's answer is read: its opening message comes at once."""
PROBES = ("/health", "/ready")
"""Their 503 is their answer (a dependency is away, perhaps only slow under this load), not a
fault of theirs."""


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    if case.operation.path in PROBES and response.status_code == 503:
        return None
    return not_a_server_error(ctx, response, case)


# Not `positive_data_acceptance`: a request the schema allows may still break a rule it cannot
# state (an unknown area, a date beyond the calendar), and that is a 422 by design.
CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    problem_json_for_errors,
]


@dataclass
class Fuzzing:
    """One token's pass over every operation."""

    base_url: str
    token: str
    cases: list[str]
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def strategy(self, operation: Any, mode: GenerationMode) -> st.SearchStrategy[Any]:
        """Generated requests carrying the token; valid ones name a real case half the time."""
        auth = {"Authorization": f"Bearer {self.token}"}
        generated = operation.as_strategy(generation_mode=mode, headers=auth)
        named = {p.name for p in operation.iter_parameters() if p.location == "path"}
        if mode is GenerationMode.NEGATIVE or not named & {"case_id", "partner"}:
            return generated
        real = [
            {"case_id": case} if "case_id" in named else {"partner": "kela"} for case in self.cases
        ]
        return generated | st.one_of(
            [operation.as_strategy(generation_mode=mode, headers=auth, path_parameters=path)
             for path in real]
        )  # fmt: skip

    def send(self, case: Any) -> None:
        # A live stream never ends: schemathesis reads it until the timeout, then checks it.
        live = case.operation.path.endswith("/stream")
        response = case.call(base_url=self.base_url, timeout=STREAM_SECONDS if live else 60)
        self.requests += 1
        probe = case.operation.path in PROBES and response.status_code == 503
        self.statuses["503 from a probe" if probe else str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    def test(self, operation: Any, mode: GenerationMode, examples: int) -> Callable[[], None]:
        @settings(
            max_examples=examples,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            database=None,
            deadline=None,
        )
        @given(case=self.strategy(operation, mode))
        def fuzz(case: Any) -> None:
            self.send(case)

        return fuzz


def fuzz(schema: Any, fuzzing: Fuzzing, budget: dict[GenerationMode, int]) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in budget.items():
            if mode is GenerationMode.NEGATIVE and not _negatable(operation):
                continue  # nothing of it can be made invalid
            try:
                fuzzing.test(operation, mode, examples)()
            except Exception as error:
                error.add_note(f"while fuzzing {operation.label} ({mode.value})")
                raise


def _negatable(operation: Any) -> bool:
    """Whether anything besides the credentials (which every request carries valid) can be made
    invalid."""
    own = [p for p in operation.iter_parameters() if p.name not in CREDENTIALS]
    return bool(list(operation.body) or own)


def main(config: dict[str, Any]) -> dict[str, Any]:
    schema = schemathesis.openapi.from_url(config["spec"])
    base_url = config["spec"].split("/schema/", 1)[0]
    started = time.monotonic()
    runs = {}
    for name, token in config["tokens"].items():
        runs[name] = Fuzzing(base_url, token, config["cases"])
        fuzz(schema, runs[name], BUDGET[name])
    statuses = sum((run.statuses for run in runs.values()), Counter[str]())
    return {
        "requests": {name: run.requests for name, run in runs.items()},
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
