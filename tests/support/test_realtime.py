"""Broadcasts from the threads that stream bot replies (apps/support/realtime.py).

A reply streams from a worker thread of the ASGI server (`sync_to_async(thread_sensitive=False)`).
Its broadcasts go through the server's event loop; when that loop stops (a restart), the thread
must not wait for it, or the process cannot exit until it is killed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.layers import get_channel_layer

from apps.support import realtime

pytestmark = pytest.mark.usefixtures("memory_channel_layer")
ServerThread = Callable[[Callable[[], object]], tuple[asyncio.AbstractEventLoop, threading.Event]]


def test_a_reply_thread_broadcasts_through_the_servers_loop() -> None:
    layer = get_channel_layer()

    async def serve() -> dict:
        channel = await layer.new_channel()
        await layer.group_add("support-conv-1-customer", channel)
        await sync_to_async(realtime.typing_broadcast, thread_sensitive=False)(
            conversation_id=1, who="bot", on=True, to_customer=True
        )
        return await asyncio.wait_for(layer.receive(channel), 5)

    event = asyncio.run(serve())
    assert event == {"type": "chat.event", "payload": {"type": "typing", "who": "bot", "on": True}}


@pytest.fixture
def stale_record(request: pytest.FixtureRequest) -> Iterator[None]:
    """This thread's asgiref record of a server loop: none, or one left by an earlier call
    whose loop has since closed or stopped (a sync_to_async call inside async_to_sync runs on
    the calling thread and leaves it there)."""

    local = SyncToAsync.threadlocal
    saved = {k: getattr(local, k, None) for k in ("main_event_loop", "main_event_loop_pid")}
    loop = None
    if request.param != "none":
        loop = asyncio.new_event_loop()
        loop.run_until_complete(asyncio.sleep(0))
        if request.param == "closed":
            loop.close()
    local.main_event_loop = loop
    local.main_event_loop_pid = os.getpid() if loop else None
    yield
    for key, value in saved.items():
        setattr(local, key, value)
    if loop is not None:
        loop.close()


@pytest.mark.parametrize("stale_record", ["none", "closed", "stopped"], indirect=True)
def test_a_broadcast_outside_a_running_server_still_reaches_the_group(stale_record) -> None:
    """A Celery task or a command has no server loop, or only a stale record of one: the
    broadcast runs on a loop of its own."""

    layer = get_channel_layer()
    loop = asyncio.new_event_loop()
    channel = loop.run_until_complete(layer.new_channel())
    loop.run_until_complete(layer.group_add(realtime.QUEUE_GROUP, channel))
    # InMemoryChannelLayer keeps its queues across loops; the send happens on a loop of its own.
    realtime._send(realtime.QUEUE_GROUP, {"n": 7})
    event = loop.run_until_complete(asyncio.wait_for(layer.receive(channel), 5))
    loop.close()
    assert event["payload"] == {"n": 7}


@pytest.fixture
def server_thread() -> Iterator[ServerThread]:
    """Start `work` in a `sync_to_async` worker thread of an event loop, as the chat consumer
    starts a reply, and return once the thread runs; the caller then stops or blocks the loop.
    Gives (loop, go): `work` starts its broadcasts when `go` is set."""

    loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Task]] = []

    def start(work: Callable[[], object]) -> tuple[asyncio.AbstractEventLoop, threading.Event]:
        started, go = threading.Event(), threading.Event()

        def reply() -> None:
            started.set()
            go.wait(10)
            work()

        loop = asyncio.new_event_loop()
        task = loop.create_task(sync_to_async(reply, thread_sensitive=False)())
        while not started.is_set():
            loop.run_until_complete(asyncio.sleep(0.01))
        loops.append((loop, task))
        return loop, go

    yield start
    for loop, task in loops:
        loop.run_until_complete(task)
        loop.close()


def test_a_reply_thread_does_not_wait_for_a_server_loop_that_has_stopped(
    server_thread, caplog
) -> None:
    done = threading.Event()

    def work() -> None:
        for _ in range(3):
            realtime.token_broadcast(conversation_id=1, reply_to=2, text="tok")
        done.set()

    _loop, go = server_thread(work)
    # The loop is not running now (run_until_complete returned): the server stopped.
    with caplog.at_level(logging.WARNING, logger="apps.support.realtime"):
        go.set()
        # Before the fix the first broadcast queued on the stopped loop and waited forever.
        assert done.wait(10), "the reply thread is still waiting for a stopped loop"
    assert not caplog.records  # each broadcast went out on a loop of its own


def test_a_broadcast_the_servers_loop_never_takes_gives_up_after_its_wait(
    server_thread, monkeypatch, caplog
) -> None:
    """The loop stops after the thread looked: the send waits BROADCAST_WAIT_S, not forever."""

    monkeypatch.setattr(realtime, "BROADCAST_WAIT_S", 0.3)
    done = threading.Event()
    loop, go = server_thread(lambda: (realtime._send("g", {"n": 1}), done.set()))
    blocked = threading.Event()

    def hold_the_loop() -> None:
        # The loop reads as running, but takes no new work until the send has given up.
        async def hold() -> None:
            blocked.set()
            done.wait(10)

        loop.run_until_complete(hold())

    holder = threading.Thread(target=hold_the_loop)
    with caplog.at_level(logging.WARNING, logger="apps.support.realtime"):
        holder.start()
        assert blocked.wait(5)
        go.set()
        assert done.wait(10), "the send never gave up"
        holder.join(10)
    assert any("not taken in" in r.getMessage() for r in caplog.records)
