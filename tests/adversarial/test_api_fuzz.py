"""Schemathesis over the whole OpenAPI, operation by operation and in linked sequences
(create a run, then read, cancel, stream and delete it): no request gets a 5xx.

A few examples per operation keep this under a minute; ``bench/adversarial.py`` sends
thousands.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from convscope.config import Settings
from convscope.server.app import create_app

#: Examples per operation (the bench sets many more).
EXAMPLES = 15
#: The host name Schemathesis' in-process client sends.
FUZZ_HOST = "testserver"


def fuzz_app(store_dir: Path) -> Any:
    """The app without workers, answering to the fuzzer's host name.

    Event streams end after their replay (as when the server shuts down), so that a
    stream of a queued run does not wait for events that never come.
    """
    settings_ = Settings(store_dir=store_dir, allowed_hosts=(FUZZ_HOST,))
    app = create_app(settings_, start_workers=False, static_dir=store_dir / "no-static")
    app.state.hub.close_streams()
    return app


# Loaded when the module is collected (Schemathesis makes one test per operation); the
# store lives in a directory removed when the tests end.
_STORE = tempfile.TemporaryDirectory(prefix="convscope-fuzz-")
atexit.register(_STORE.cleanup)
schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app(Path(_STORE.name) / "store"))
# Schemathesis' coverage phase walks every boundary of the RunConfig schema (a minute on
# two cores): the bench runs it; here, random examples and linked sequences.
schema.config.phases.update(phases=["examples", "fuzzing", "stateful"])


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_request_gets_a_server_error(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"


def test_linked_sequences_get_no_server_error() -> None:
    class NoServerErrors(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, **_: Any) -> None:
            assert response.status_code < 500, f"{case.method} {case.formatted_path}"

    NoServerErrors.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
