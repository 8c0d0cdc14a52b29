"""A small SSE storm: every reading client gets every event, idle clients hold nothing up,
and the API keeps answering (``bench/adversarial.py`` runs the full-size storm)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
SERVER_TESTS = str(Path(__file__).resolve().parents[1] / "server")
for folder in (HERE, SERVER_TESTS):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from server_helpers import live_server, seed_run, wait_for  # noqa: E402
from storm import HealthProbe, run_storm, seed_events  # noqa: E402

from convscope.config import Settings  # noqa: E402
from convscope.server.app import create_app  # noqa: E402

EVENTS = 2_200
READERS = 60
ROUNDS = 2
IDLE = 10


def test_a_storm_of_replays_gets_every_event_and_the_api_keeps_answering(
    tmp_path: Path,
) -> None:
    settings = Settings(store_dir=tmp_path / "store", sse_send_timeout_s=5.0)
    app = create_app(settings, start_workers=False)
    with live_server(app) as server:
        store = app.state.store
        run_id = seed_run(store, status="running", snapshots=0)
        expected = [event.id for event in store.events_after(run_id, 0)]
        expected += seed_events(store, run_id, EVENTS)
        with HealthProbe(server.url) as health:
            result = asyncio.run(
                run_storm(server.url, run_id, expected, readers=READERS, rounds=ROUNDS, idle=IDLE)
            )
        assert result.errors == [] and result.refused == 0
        assert result.incomplete == []
        assert result.complete == READERS * ROUNDS
        assert health.failures == [] and len(health.latencies) > 0
        # Every client is gone, the idle ones included.
        hub = app.state.hub
        assert server.client.get("/api/health").status_code == 200
        wait_for(lambda: hub.subscriber_count == 0, timeout=15, what="every stream to close")
