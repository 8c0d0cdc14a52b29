"""Many event-stream clients at once cost the server little: shared reads, streams that
start, end and send their replay in turns, and full garbage collections on a timer.

``tests/adversarial/test_storms.py`` runs a small storm end to end; ``bench/adversarial.py
storm`` measures the full-size one.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import run_in_own_loop, seed_run

from convscope.server.cache import SingleFlight
from convscope.server.collector import FullCollections
from convscope.server.events import REPLAY_PAGE, EventHub
from convscope.server.streams import EventStreamResponse
from convscope.server.turns import StreamTurnsMiddleware
from convscope.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "store")
    yield store
    store.close()


def count_reads(store: Store, method: str) -> list[tuple]:
    """Record the calls of one of ``store``'s reading methods (which still reads)."""
    calls: list[tuple] = []
    read = getattr(store, method)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return read(*args, **kwargs)

    setattr(store, method, counted)
    return calls


def test_single_flight_shares_one_computation_and_survives_a_cancelled_caller() -> None:
    computed: list[str] = []

    async def scenario() -> tuple[list[str], list[str], str]:
        flight = SingleFlight()
        release = asyncio.Event()

        async def compute() -> str:
            computed.append("x")
            await release.wait()
            return f"value {len(computed)}"

        callers = [asyncio.create_task(flight.run("key", compute)) for _ in range(20)]
        await asyncio.sleep(0.01)
        callers[0].cancel()  # one client leaves: the others still get the value
        release.set()
        results = await asyncio.gather(*callers[1:])
        later = await flight.run("key", compute)  # done: a later caller computes again
        return computed, results, later

    computed, results, later = run_in_own_loop(scenario)
    assert results == ["value 1"] * 19
    assert later == "value 2" and computed == ["x", "x"]


def test_clients_connecting_at_once_share_the_reads_of_the_run_and_its_pages(
    store: Store,
) -> None:
    run_id = seed_run(store, status="running", snapshots=0)
    for step in range(REPLAY_PAGE + 20):
        store.add_event(run_id, "progress", {"step": step})
    page_reads = count_reads(store, "events_after")
    run_reads = count_reads(store, "get_run")

    async def scenario() -> tuple[list, list]:
        hub = EventHub(store)
        hub._last_id = store.last_event_id()
        states = await asyncio.gather(*(hub.run_state(run_id, 0) for _ in range(50)))
        pages = await asyncio.gather(*(hub.replay_page(run_id, 0) for _ in range(50)))
        return states, pages

    states, pages = run_in_own_loop(scenario)
    assert set(states) == {(False, False)}
    assert all(page is pages[0] for page in pages) and pages[0].count == REPLAY_PAGE
    assert len(run_reads) == 1  # fifty clients, one read of the run
    assert [args[1] for args in page_reads if args[0] == run_id] == [0]  # and of the page


def test_a_run_state_is_read_again_once_the_run_has_a_new_event(store: Store) -> None:
    run_id = seed_run(store, status="running", snapshots=0)
    run_reads = count_reads(store, "get_run")

    async def scenario() -> list[tuple[bool, bool]]:
        hub = EventHub(store)
        hub._last_id = store.last_event_id()
        states = [await hub.run_state(run_id, 0), await hub.run_state(run_id, 0)]
        store.set_status(run_id, "done")
        await hub.poll_once()  # the hub sees the run's end
        states.append(await hub.run_state(run_id, 0))
        return states

    states = run_in_own_loop(scenario)
    assert states == [(False, False), (False, False), (True, False)]
    assert len(run_reads) == 2  # the second client was answered without a read


def test_a_client_does_not_join_a_read_that_began_before_an_event_it_would_miss(
    store: Store,
) -> None:
    run_id = seed_run(store, status="running", snapshots=0)
    first_read_may_finish = threading.Event()
    first_read_began = threading.Event()
    read = store.events_after

    def slow_first_read(run: str | None, after: int, limit: int = REPLAY_PAGE) -> list:
        events = read(run, after, limit=limit)
        if run == run_id and not first_read_began.is_set():
            first_read_began.set()
            first_read_may_finish.wait(10)
        return events

    store.events_after = slow_first_read  # type: ignore[method-assign]

    async def scenario() -> tuple[int, int]:
        hub = EventHub(store)
        hub._last_id = store.last_event_id()
        early = asyncio.create_task(hub.replay_page(run_id, 0))
        await asyncio.to_thread(first_read_began.wait, 10)
        # An event arrives and is published before the second client subscribes: a page
        # read before it would lack it, and the client would never get it live either.
        store.add_event(run_id, "progress", {"step": 1})
        await hub.poll_once()
        late = await hub.replay_page(run_id, 0)
        first_read_may_finish.set()
        return (await early).count, late.count

    early, late = run_in_own_loop(scenario)
    assert late == early + 1


def test_event_streams_start_and_end_in_turns() -> None:
    """At most ``turns`` streams are between their request and their headers, or between
    their client leaving and their end; other requests never wait for a turn. The same app
    served again, in a new event loop, takes turns there too."""
    turns: StreamTurnsMiddleware

    async def scenario() -> dict[str, int]:
        busy = {"starting": 0, "ending": 0}
        most = {"starting": 0, "ending": 0, "other": 0, "started": 0}
        others = 0

        async def app(scope: dict, receive, send) -> None:
            nonlocal others
            if scope["path"] == "/api/health":
                others += 1
                most["other"] = max(most["other"], others)
                await asyncio.sleep(0.01)
                others -= 1
                return
            busy["starting"] += 1
            most["starting"] = max(most["starting"], busy["starting"])
            await asyncio.sleep(0.005)
            busy["starting"] -= 1
            await send({"type": "http.response.start", "status": 200, "headers": []})
            most["started"] += 1
            assert (await receive())["type"] == "http.disconnect"
            busy["ending"] += 1
            most["ending"] = max(most["ending"], busy["ending"])
            await asyncio.sleep(0.005)
            busy["ending"] -= 1

        turns.app = app
        leave = asyncio.Event()

        async def receive() -> dict:
            await leave.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            pass

        def request(path: str):
            return turns({"type": "http", "path": path}, receive, send)

        streams = [asyncio.create_task(request("/api/runs/abc/events")) for _ in range(20)]
        health = [asyncio.create_task(request("/api/health")) for _ in range(20)]
        await asyncio.gather(*health)
        while most["started"] < 20:
            await asyncio.sleep(0.005)
        leave.set()  # every client leaves at once
        await asyncio.gather(*streams)
        return most

    turns = StreamTurnsMiddleware(lambda *_: None, turns=3)
    for _ in range(2):
        most = run_in_own_loop(scenario)
        assert most["started"] == 20
        assert most["starting"] == 3 and most["ending"] == 3
        assert most["other"] == 20  # not held back


def test_replay_pages_are_handed_over_in_turns_and_a_stuck_client_gives_its_turn_away() -> None:
    page = b"x" * (64 * 1024)

    async def scenario() -> tuple[int, bool, bool]:
        hub = EventHub(Store.__new__(Store))  # no store read here: the pages are given
        hub.page_senders = asyncio.Semaphore(2)
        sending = 0
        most = 0
        stuck_forever = asyncio.Event()

        async def pages():
            for _ in range(3):
                yield page

        def respond(stuck: bool) -> asyncio.Task:
            async def send(message: dict) -> None:
                nonlocal sending, most
                if message["type"] != "http.response.body" or not message.get("body"):
                    return
                if stuck:
                    await stuck_forever.wait()  # a client that reads nothing
                sending += 1
                most = max(most, sending)
                await asyncio.sleep(0.01)
                sending -= 1

            async def receive() -> dict:
                await asyncio.Event().wait()
                return {}

            response = EventStreamResponse(
                pages(), hub=hub, subscription=hub.subscribe("run"), send_timeout=2.0
            )
            scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
            return asyncio.create_task(response(scope, receive, send))

        stuck = [respond(stuck=True) for _ in range(2)]
        await asyncio.sleep(0.1)  # both stuck clients took a turn, then gave it away
        readers = [respond(stuck=False) for _ in range(6)]
        await asyncio.wait_for(asyncio.gather(*readers), timeout=1.5)
        readers_done_first = not any(task.done() for task in stuck)
        await asyncio.gather(*stuck)  # dropped after the send timeout
        return most, readers_done_first, hub.subscriber_count == 0

    most, readers_done_first, all_released = run_in_own_loop(scenario)
    assert most == 2
    assert readers_done_first and all_released


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_full_collections_run_on_the_timer_and_find_cyclic_garbage(restore_gc: None) -> None:
    class Node:
        pass

    collections = FullCollections(interval_s=0.05)
    collections.take_over()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[2] >= 10**9  # CPython starts no full collection itself

    def nodes() -> int:
        return sum(isinstance(o, Node) for o in gc.get_objects())

    async def scenario() -> tuple[int, int]:
        pairs = []
        for _ in range(1000):
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle: reference counting alone never frees it
            pairs.append(a)
        del a, b
        gc.collect(1)  # the pairs, still in use, move to the oldest generation
        pairs.clear()  # garbage now, but only a full collection finds it
        gc.collect(1)
        before = nodes()
        timer = asyncio.create_task(collections.run())
        await asyncio.sleep(0.2)
        timer.cancel()
        return before, nodes()

    assert run_in_own_loop(scenario) == (2000, 0)
    assert collections.last_pause_s is not None
