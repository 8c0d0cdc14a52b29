"""Event streams that cannot hold the server: finished runs' streams end, open streams are
capped, and a client that stops reading is dropped."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from server_helpers import LiveServer, live_server, seed_run, wait_for

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.events import EventHub
from convscope.store import Store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with small caps on streams and a short send timeout."""
    store_dir = tmp_path_factory.mktemp("streams") / "store"
    settings = Settings(
        store_dir=store_dir,
        sse_max_connections=3,
        sse_max_per_run=2,
        sse_send_timeout_s=1.0,
    )
    with live_server(create_app(settings, start_workers=False)) as live:
        yield live


def event_ids(lines: Iterator[str]) -> list[int]:
    """Every event id of a stream, read to its end."""
    return [int(line[4:]) for line in lines if line.startswith("id: ")]


def test_a_finished_runs_stream_ends_after_its_events(server: LiveServer) -> None:
    store: Store = server.app.state.store
    run_id = seed_run(store, status="done", snapshots=2)
    stored = [event.id for event in store.events_after(run_id, 0)]
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert response.status_code == 200
        assert event_ids(response.iter_lines()) == stored  # the stream ended by itself
    # Reconnecting with the last id: nothing will ever come, and 204 says so.
    again = server.client.get(
        f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(stored[-1])}
    )
    assert again.status_code == 204
    partial = f"/api/runs/{run_id}/events?last_event_id={stored[1]}"
    with server.client.stream("GET", partial) as response:
        assert event_ids(response.iter_lines()) == stored[2:]
    assert server.app.state.hub.subscriber_count == 0


def test_a_live_stream_ends_with_the_runs_end(server: LiveServer) -> None:
    store: Store = server.app.state.store
    run_id = seed_run(store, status="running", snapshots=0)
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith(":")) == ": connected"
        store.add_event(run_id, "progress", {"step": 1})
        store.set_status(run_id, "done")
        rest = list(lines)  # ends: no timeout needed
    assert "event: progress" in rest and "event: status" in rest
    assert rest[-2].startswith("data: ") and '"done"' in rest[-2]


def test_open_streams_are_capped_per_run_and_in_all(server: LiveServer) -> None:
    store: Store = server.app.state.store
    hub: EventHub = server.app.state.hub
    first, second = (seed_run(store, status="running", snapshots=0) for _ in range(2))
    with (
        server.client.stream("GET", f"/api/runs/{first}/events") as a,
        server.client.stream("GET", f"/api/runs/{first}/events") as b,
    ):
        assert a.status_code == b.status_code == 200
        refused = server.client.get(f"/api/runs/{first}/events")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["detail"][0]["limit"] == "sse_max_per_run"
        with server.client.stream("GET", f"/api/runs/{second}/events") as c:
            assert c.status_code == 200
            full = server.client.get(f"/api/runs/{second}/events")
            assert full.status_code == 503
            assert full.json()["detail"][0]["limit"] == "sse_max_connections"
            assert hub.subscriber_count == 3
    wait_for(lambda: hub.subscriber_count == 0, timeout=10, what="the streams to close")
    with server.client.stream("GET", f"/api/runs/{first}/events") as again:
        assert again.status_code == 200


def test_a_client_that_stops_reading_is_dropped(server: LiveServer) -> None:
    store: Store = server.app.state.store
    hub: EventHub = server.app.state.hub
    run_id = seed_run(store, status="running", snapshots=0)
    # Several megabytes of events: more than the socket buffers on both sides hold.
    for step in range(1500):
        store.add_event(run_id, "progress", {"step": step, "pad": "x" * 4000})
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock.sendall(request.encode())
        wait_for(lambda: hub.subscriber_count == 1, timeout=10, what="the stream to open")
        started = time.monotonic()
        # The client reads nothing: after the send timeout the server lets it go.
        wait_for(lambda: hub.subscriber_count == 0, timeout=30, what="the slow client to go")
        assert time.monotonic() - started >= 0.5
        assert server.client.get("/api/health").status_code == 200
