"""Server-Sent Events: replay after Last-Event-ID, live events, no gaps or duplicates,
slow clients dropped, disconnected clients forgotten."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import LiveServer, live_server, run_in_own_loop, seed_run, wait_for

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.events import EventHub
from convscope.server.streams import event_stream, parse_last_event_id
from convscope.store import Store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real uvicorn server (no workers) shared by the HTTP tests of this module."""
    store_dir = tmp_path_factory.mktemp("events") / "store"
    app = create_app(Settings(store_dir=store_dir, workers=1), start_workers=False)
    with live_server(app) as live:
        yield live


class SSEReader:
    """Parses events off one streaming SSE response (comment lines are skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def comment(self) -> str:
        """The next comment line."""
        return next(line for line in self.lines if line.startswith(":"))

    def events(self, count: int) -> list[tuple[int, str, dict]]:
        """The next ``count`` events as ``(id, event, data)``."""
        events: list[tuple[int, str, dict]] = []
        fields: dict[str, str] = {}
        for line in self.lines:
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if fields:
                events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
                if len(events) == count:
                    return events
        raise AssertionError(f"the stream ended after {len(events)} of {count} events")


def nan_to_none(value: object) -> object:
    """What JSON makes of a payload: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: nan_to_none(item) for key, item in value.items()}
    return value


def test_replay_after_last_event_id_then_live_events(server: LiveServer) -> None:
    store: Store = server.app.state.store
    run_id = seed_run(store, status="queued", snapshots=0)
    other = seed_run(store, status="queued", snapshots=0)
    ids = [store.add_event(run_id, "progress", {"step": step}) for step in range(5)]
    store.add_event(other, "progress", {"step": 99})
    headers = {"Last-Event-ID": str(ids[1])}
    with server.client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SSEReader(response)
        replayed = reader.events(3)
        assert replayed == [(ids[i], "progress", {"step": i}) for i in (2, 3, 4)]
        store.add_event(other, "progress", {"step": 100})
        live_ids = [store.add_event(run_id, "progress", {"step": step}) for step in (5, 6)]
        store.set_status(run_id, "running")
        live = reader.events(3)
    assert live[:2] == [(live_ids[i], "progress", {"step": 5 + i}) for i in (0, 1)]
    assert live[2][1:] == ("status", {"status": "running", "error": None})
    assert live[2][0] > live_ids[1]


def test_query_fallback_and_full_replay(server: LiveServer) -> None:
    store: Store = server.app.state.store
    run_id = seed_run(store, status="done", snapshots=2)
    stored = store.events_after(run_id, 0)
    expected = [(e.id, e.kind, nan_to_none(e.payload)) for e in stored]
    assert [kind for _, kind, _ in expected] == [
        "status",
        "snapshot",
        "snapshot",
        "status",
    ]
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert SSEReader(response).events(len(expected)) == expected
    url = f"/api/runs/{run_id}/events?last_event_id={expected[1][0]}"
    with server.client.stream("GET", url) as response:
        assert SSEReader(response).events(2) == expected[2:]
    # The header wins over the query parameter (a reconnecting EventSource sends both).
    headers = {"Last-Event-ID": str(expected[2][0])}
    with server.client.stream("GET", url, headers=headers) as response:
        assert SSEReader(response).events(1) == expected[3:]


def test_disconnect_frees_the_subscription(server: LiveServer) -> None:
    hub: EventHub = server.app.state.hub
    run_id = seed_run(server.app.state.store, status="running", snapshots=0)
    assert hub.subscriber_count == 0
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
        reader = SSEReader(response)  # kept: dropping its line iterator closes the stream
        assert reader.comment() == ": connected"
        assert hub.subscriber_count == 1
    wait_for(lambda: hub.subscriber_count == 0, timeout=10, what="the subscription to go")


def test_unknown_run_is_404_without_a_stream(server: LiveServer) -> None:
    response = server.client.get("/api/runs/0123456789ab/events")
    assert response.status_code == 404
    assert server.app.state.hub.subscriber_count == 0


def test_parse_last_event_id() -> None:
    assert parse_last_event_id(None, None) == 0
    assert parse_last_event_id("12", "3") == 12
    assert parse_last_event_id(None, "3") == 3
    assert parse_last_event_id("garbage", "3") == 3
    assert parse_last_event_id("-4", None) == 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "store")
    yield opened
    opened.close()


def test_slow_client_is_dropped_and_resumes_from_the_database(store: Store) -> None:
    run_id = seed_run(store, status="queued", snapshots=0)
    first = store.last_event_id()

    async def scenario() -> tuple[list[str], str]:
        hub = EventHub(store, queue_size=4)
        await hub.start()
        try:
            stream = event_stream(hub, run_id, first)
            assert await anext(stream) == ": connected\n\n"
            assert hub.subscriber_count == 1
            for step in range(10):  # more than the queue holds, while the client reads nothing
                store.add_event(run_id, "progress", {"step": step})
            await hub.poll_once()
            assert hub.subscriber_count == 0
            after_drop = [chunk async for chunk in stream]  # the stream just ends
            resumed = event_stream(hub, run_id, first)
            replay = (await anext(resumed)).decode()  # the stored events come as one page
            assert await anext(resumed) == ": connected\n\n"
            await resumed.aclose()
            return after_drop, replay
        finally:
            await hub.stop()

    after_drop, replay = run_in_own_loop(scenario)
    assert after_drop == []
    steps = [json.loads(part.split("\n")[0])["step"] for part in replay.split("data: ")[1:]]
    assert steps == list(range(10))


def test_events_seen_in_replay_and_live_are_sent_once(store: Store) -> None:
    run_id = seed_run(store, status="queued", snapshots=0)
    ids = [store.add_event(run_id, "progress", {"step": step}) for step in range(3)]

    async def scenario() -> list[str]:
        hub = EventHub(store)
        # The hub has not polled yet: the events already in the database reach the client
        # twice, once by replay and once live, as when a poll races a connection.
        hub._last_id = ids[0] - 1
        stream = event_stream(hub, run_id, ids[0] - 1, heartbeat_s=0.05)
        chunks = [(await anext(stream)).decode()]  # the replay: bytes
        await hub.poll_once()
        late = store.add_event(run_id, "progress", {"step": 3})
        await hub.poll_once()
        while len(ids_in(chunks)) < 4:
            chunks.append(await anext(stream))
        chunks.append(await anext(stream))  # nothing else is queued: a heartbeat
        await stream.aclose()
        assert hub.subscriber_count == 0
        assert late == ids[-1] + 1
        return chunks

    chunks = run_in_own_loop(scenario)
    assert ids_in(chunks) == [*ids, ids[-1] + 1]
    assert chunks[-1] == ": heartbeat\n\n"
    # The stored events come as one page.
    assert chunks[0] == "".join(
        f'id: {event_id}\nevent: progress\ndata: {{"step":{step}}}\n\n'
        for step, event_id in enumerate(ids)
    )


def ids_in(chunks: list[str]) -> list[int]:
    """The ids of the events in some SSE chunks, in order."""
    return [int(line[4:]) for c in chunks for line in c.split("\n") if line.startswith("id: ")]


def test_replay_pages_are_shared_until_they_change(store: Store) -> None:
    from convscope.server.events import REPLAY_PAGE

    run_id = seed_run(store, status="running", snapshots=0)
    for step in range(REPLAY_PAGE + 10):
        store.add_event(run_id, "progress", {"step": step})
    reads: list[int] = []
    read = store.events_after

    def counted(run: str | None, after: int, limit: int = 500) -> list:
        if run == run_id:
            reads.append(after)
        return read(run, after, limit=limit)

    store.events_after = counted  # type: ignore[method-assign]

    async def scenario() -> tuple[int, int, int, int]:
        hub = EventHub(store)
        hub._last_id = store.last_event_id()
        first = await hub.replay_page(run_id, 0)
        assert await hub.replay_page(run_id, 0) is first  # a full page: read once
        tail = await hub.replay_page(run_id, first.last_id)
        assert await hub.replay_page(run_id, first.last_id) is tail  # nothing new yet
        store.add_event(run_id, "progress", {"step": -1})
        await hub.poll_once()  # the hub sees a new event: the last page is read again
        grown = await hub.replay_page(run_id, first.last_id)
        store.set_status(run_id, "done")
        await hub.poll_once()  # the run ends: its events are compacted, its pages dropped
        after_end = await hub.replay_page(run_id, 0)
        return first.count, tail.count, grown.count, after_end.count

    full, tail, grown, after_end = run_in_own_loop(scenario)
    assert (full, tail, grown) == (REPLAY_PAGE, 11, 12)  # "running", then 510 progress
    first_id = reads[1]
    assert reads == [0, first_id, first_id, 0]
    assert after_end < 10  # compacted: only the last progress event is left
