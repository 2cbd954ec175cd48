"""Pushing chat events over the channel layer: to the customer, to agents, to the queue.

Services persist first and broadcast after commit, so a lost broadcast costs a refresh, never a
message: clients resume from the last message id they saw.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.layers import get_channel_layer

from .models import Conversation
from .selectors import (
    agents_online_list,
    conversation_engaged,
    conversation_summary,
    message_agent_view,
    message_public_view,
)

log = logging.getLogger(__name__)
QUEUE_GROUP = "support-queue"
# How long a worker thread waits for the server's event loop to take a broadcast. A send takes
# milliseconds; the wait only runs out when the loop stopped (a restart) after the thread
# looked, and the thread then goes on to store the rest of its reply.
BROADCAST_WAIT_S = 5.0


def customer_group(conversation_id: int) -> str:
    return f"support-conv-{conversation_id}-customer"


def agents_group(conversation_id: int) -> str:
    return f"support-conv-{conversation_id}-agents"


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's event loop when this thread is one of its `sync_to_async` workers
    (asgiref records it per thread), else None: a Celery task, a command, a test. The record
    outlives the call that made it: the loop may since have stopped or closed."""

    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def _send(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "chat.event", "payload": payload}
    loop = _server_loop()
    try:
        if loop is not None and loop.is_running():
            sent = asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop)
            try:
                sent.result(timeout=BROADCAST_WAIT_S)
            except TimeoutError:
                sent.cancel()
                log.warning("broadcast to %s not taken in %.0f s", group, BROADCAST_WAIT_S)
        else:
            # No server loop here, or it has stopped (a restart). asgiref's async_to_sync would
            # queue the send on a stopped loop and wait forever, and the process could not exit
            # until killed: the send runs on a loop of its own instead.
            AsyncToSync(layer.group_send, force_new_loop=True)(group, event)
    except Exception:  # the database row is the record; a broadcast is a courtesy
        log.warning("broadcast to %s failed", group, exc_info=True)


def message_broadcast(*, message: Any) -> None:

    if message.sender != message.Sender.NOTE:
        _send(
            customer_group(message.conversation_id),
            {"type": "message", "message": message_public_view(message)},
        )
    _send(
        agents_group(message.conversation_id),
        {"type": "message", "message": message_agent_view(message)},
    )


def conversation_broadcast(*, conversation_id: int, event: str = "conversation") -> None:

    conversation = Conversation.objects.select_related("assigned_agent").get(pk=conversation_id)
    summary = conversation_summary(conversation)
    _send(
        customer_group(conversation_id),
        {"type": "status", "status": conversation.status, "event": event},
    )
    _send(
        agents_group(conversation_id),
        {"type": "conversation", "conversation": summary, "event": event},
    )
    # The queue shows a visit from the customer's first message on (as `queue_list` does).
    if conversation_engaged(conversation_id=conversation_id):
        _send(QUEUE_GROUP, {"type": "queue_item", "conversation": summary, "event": event})


def typing_broadcast(*, conversation_id: int, who: str, on: bool, to_customer: bool) -> None:
    payload = {"type": "typing", "who": who, "on": on}
    _send(
        customer_group(conversation_id) if to_customer else agents_group(conversation_id), payload
    )


def token_broadcast(*, conversation_id: int, reply_to: int, text: str) -> None:
    payload = {"type": "token", "reply_to": reply_to, "text": text}
    _send(customer_group(conversation_id), payload)
    _send(agents_group(conversation_id), payload)


def agents_broadcast() -> None:
    """Tell every open console who is online, so its "Transfer to" list follows agents coming
    and going instead of being what it was when the console connected."""

    _send(QUEUE_GROUP, {"type": "agents", "agents": agents_online_list()})
