"""Websockets: the customer's chat and the agents' console.

Customer: ws/support/chat/<token>/?after=<last message id>. On connect it receives every message
after `after` (so a reconnect resumes without loss), then live events. Messages carry a client
id; a resend after a dropped connection is acknowledged, not stored twice.

Agent: ws/support/console/ (session sign-in, or `?token=<API token>`). Connecting marks the agent
online (heartbeats keep it so); the queue streams in; `open` subscribes to one conversation's
transcript.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ObjectDoesNotExist

from apps.accounts.face import Role, RoleCheckedConsumer
from apps.mlops.runtime import ModelsBusy, model_request_admit

from . import realtime, selectors, services
from .models import Conversation, Message
from .text import InvalidText

log = logging.getLogger(__name__)
# A chat message is at most 2,000 characters; even written as JSON \u escapes (12 characters
# for an emoji) it fits with room to spare. Larger frames are refused before parsing.
MAX_FRAME_CHARS = 64 * 1024


def _error(message: str, code: str = "invalid") -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class JsonActionConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels: no stubs
    """One JSON object per frame, dispatched by `receive_json`. Whatever a frame holds (not
    JSON, binary, too large, a wrong type) and whatever an action raises, the sender gets an
    error frame and the connection stays open: one bad frame must not cut a customer off from
    their chat or an agent off from the queue."""

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None:
            await self.send_json(_error("Send text frames, each holding one JSON object."))
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_json(
                _error(
                    f"That frame is too large ({len(text_data)} characters; at most "
                    f"{MAX_FRAME_CHARS}).",
                    "too_large",
                )
            )
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):  # RecursionError: [[[[...]]]] nested too deep
            await self.send_json(_error("That was not valid JSON; send one JSON object."))
            return
        if not isinstance(content, dict):
            await self.send_json(_error("Send JSON objects."))
            return
        try:
            await self.receive_json(content, **kwargs)
        except Exception as exc:
            frame = self.error_frame(exc, content)
            if content.get("type") == "message" and isinstance(content.get("client_id"), str):
                # Which message was refused: the client marks that one and keeps its text.
                frame["client_id"] = content["client_id"]
            await self.send_json(frame)

    def error_frame(self, exc: Exception, content: dict[str, Any]) -> dict[str, Any]:
        """The error frame for an action that raised; consumers add their own cases first."""
        if isinstance(exc, InvalidText):
            return _error(str(exc), "invalid")
        # OverflowError: int() of a JSON number like 1e400.
        if isinstance(exc, KeyError | ValueError | TypeError | OverflowError | ObjectDoesNotExist):
            return _error("That request could not be understood.")
        log.error("%s action %r failed", type(self).__name__, content.get("type"), exc_info=exc)
        return _error("That did not work; please try again.", "server_error")


class CustomerChatConsumer(JsonActionConsumer):
    conversation_id: int

    async def connect(self) -> None:
        token = str(self.scope["url_route"]["kwargs"]["token"])
        conversation = await database_sync_to_async(selectors.conversation_by_token)(token=token)
        if conversation is None:
            await self.close(code=4404)
            return
        self.conversation_id = conversation.pk
        self.group = realtime.customer_group(conversation.pk)
        # Join before reading history: anything sent in between arrives twice, never zero times
        # (clients drop ids they have already seen).
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            after = int(query.get("after", ["0"])[0])
        except ValueError:
            after = 0
        history = await database_sync_to_async(self._history)(after)
        csat = await database_sync_to_async(selectors.conversation_csat_get)(
            conversation_id=conversation.pk
        )
        # `csat`: the customer's rating once given, so a reload does not offer it again.
        await self.send_json(
            {"type": "history", "status": conversation.status, "csat": csat, "messages": history}
        )

    def _history(self, after: int) -> list[dict[str, Any]]:
        return [
            selectors.message_public_view(m)
            for m in selectors.messages_after(conversation_id=self.conversation_id, after_id=after)
        ]

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def chat_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "message":
            await self._message(content)
        elif kind == "typing":
            await database_sync_to_async(realtime.typing_broadcast)(
                conversation_id=self.conversation_id,
                who="customer",
                on=bool(content.get("on", True)),
                to_customer=False,
            )
        elif kind == "human":
            asked = await database_sync_to_async(services.conversation_human_request)(
                conversation_id=self.conversation_id
            )
            await self.send_json({"type": "human", "outcome": asked.outcome, "text": asked.text})
        elif kind == "rate":
            rated = await database_sync_to_async(services.message_rate)(
                conversation_id=self.conversation_id,
                message_id=int(content.get("message_id", 0)),
                rating=str(content.get("rating", "")),
                comment=content.get("comment") or "",
            )
            if not rated:
                raise InvalidText("Only the bot's answers in this conversation can be rated.")
            await self.send_json(
                {
                    "type": "rated",
                    "message_id": content.get("message_id"),
                    "rating": content.get("rating"),
                }
            )
        elif kind == "csat":
            score = content.get("score")
            ok = await database_sync_to_async(services.csat_submit)(
                conversation_id=self.conversation_id,
                score=score,
                comment=content.get("comment", ""),
            )
            if ok:
                await self.send_json({"type": "csat_thanks", "score": score})
            else:
                given = await database_sync_to_async(selectors.conversation_csat_get)(
                    conversation_id=self.conversation_id
                )
                await self.send_json(
                    {
                        "type": "csat_ignored",
                        "csat": given,
                        "message": "You have already rated this conversation."
                        if given
                        else "Ratings are taken once, after the conversation is closed.",
                    }
                )
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(_error(f"Unknown message type {kind!r}."))

    def error_frame(self, exc: Exception, content: dict[str, Any]) -> dict[str, Any]:
        frame = self._error_frame(exc, content)
        kind = content.get("type")
        if kind in ("rate", "csat", "human"):
            # Which request failed: the widget tells the customer that this one was not sent,
            # instead of leaving a rating "sending" for ever.
            frame["request"] = kind
            if kind == "rate":
                frame["message_id"] = content.get("message_id")
        return frame

    def _error_frame(self, exc: Exception, content: dict[str, Any]) -> dict[str, Any]:
        if isinstance(exc, services.ConversationClosed):
            return _error(str(exc), "closed")
        if isinstance(exc, services.TooManyMessages):
            return _error(str(exc), "rate_limited")
        if isinstance(exc, ModelsBusy):
            # Nothing was stored: the widget keeps the message pending and sends it again.
            return {**_error(str(exc), "busy"), "retry_after": exc.retry_after}
        if isinstance(exc, Conversation.DoesNotExist):
            # Deleted (in the admin) under the customer: like a closed one, the widget starts a
            # new conversation and sends the unsent messages there.
            return _error("This conversation no longer exists; please start a new one.", "closed")
        return super().error_frame(exc, content)

    async def _message(self, content: dict[str, Any]) -> None:
        text = content.get("text")
        if not isinstance(text, str):
            raise InvalidText("The message must be text.")
        # Too many requests of this process wait for a model: ModelsBusy (a "busy" error frame)
        # before the message is stored, so its resend is a new message the bot answers.
        with model_request_admit():
            message, created = await database_sync_to_async(services.customer_message_post)(
                conversation_id=self.conversation_id,
                text=text,
                client_id=str(content.get("client_id") or "") or None,
            )
            await self.send_json(
                {
                    "type": "ack",
                    "client_id": message.client_id,
                    "id": message.pk,
                    "duplicate": not created,
                }
            )
            if created:
                # Not in the shared thread that serialises this process's database calls: a
                # generation takes seconds, and every other chat and console would wait behind
                # it. The connection is this worker thread's, handed back during model waits.
                await database_sync_to_async(services.bot_reply_stream, thread_sensitive=False)(
                    conversation_id=self.conversation_id, message_id=message.pk
                )


class AgentConsoleConsumer(RoleCheckedConsumer, JsonActionConsumer):
    required_role = Role.SUPPORT_AGENT
    opened: int | None = None
    # The online agents this console last got: presence broadcasts that change nothing for it
    # (its own connect, a colleague's second tab) are not sent.
    agents_shown: list[dict[str, Any]] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await self.role_held_at_connect():
            await self.close(code=4403)
            return
        self.user = user
        await self.channel_layer.group_add(realtime.QUEUE_GROUP, self.channel_name)
        await self.accept()
        await database_sync_to_async(services.agent_presence_connect)(agent_id=user.pk)
        queue = await database_sync_to_async(selectors.queue_list)()
        agents = await database_sync_to_async(selectors.agents_online_list)()
        self.agents_shown = agents
        await self.send_json(
            {"type": "queue", "conversations": queue, "agents": agents, "me": user.pk}
        )

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        await self.channel_layer.group_discard(realtime.QUEUE_GROUP, self.channel_name)
        if self.opened:
            await self.channel_layer.group_discard(
                realtime.agents_group(self.opened), self.channel_name
            )
        await database_sync_to_async(services.agent_presence_disconnect)(agent_id=self.user.pk)

    async def chat_event(self, event: dict[str, Any]) -> None:
        if not await self.role_still_held_for_push():
            return
        payload = event["payload"]
        if payload.get("type") == "agents":
            if payload["agents"] == self.agents_shown:
                return
            self.agents_shown = payload["agents"]
        await self.send_json(payload)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        # Every action: an agent whose role was removed (or account deactivated) since connect
        # gets an error frame and a closed socket, and the action does nothing.
        if not await self.role_still_held():
            return
        kind = content.get("type")
        # Client-supplied (or None): int() below validates it; `error_frame` answers its errors.
        conversation_id: Any = content.get("conversation_id") or self.opened
        if kind == "heartbeat":
            await database_sync_to_async(services.agent_presence_heartbeat)(agent_id=self.user.pk)
            await self.send_json({"type": "heartbeat_ok"})
        elif kind == "agents":
            # The console asks when the "Transfer to" list is opened.
            self.agents_shown = await database_sync_to_async(selectors.agents_online_list)()
            await self.send_json({"type": "agents", "agents": self.agents_shown})
        elif kind == "open":
            await self._open(int(content["conversation_id"]))
        elif kind == "take_over":
            ok = await database_sync_to_async(services.conversation_take_over)(
                conversation_id=int(conversation_id), agent=self.user
            )
            if not ok:
                await self.send_json(_error("Someone else has this conversation.", "taken"))
        elif kind == "message":
            message, _ = await database_sync_to_async(services.agent_message_post)(
                conversation_id=int(conversation_id),
                agent=self.user,
                text=content.get("text") if isinstance(content.get("text"), str) else "",
                client_id=str(content.get("client_id") or "") or None,
            )
            await self.send_json({"type": "ack", "client_id": message.client_id, "id": message.pk})
        elif kind == "email_reply":
            await database_sync_to_async(services.conversation_email_reply)(
                conversation_id=int(conversation_id),
                agent=self.user,
                text=content.get("text") if isinstance(content.get("text"), str) else "",
            )
            await self.send_json({"type": "email_sent", "conversation_id": int(conversation_id)})
        elif kind == "note":
            await database_sync_to_async(services.note_add)(
                conversation_id=int(conversation_id),
                agent=self.user,
                text=str(content.get("text", "")),
            )
        elif kind == "close":
            closed = await database_sync_to_async(services.conversation_close)(
                conversation_id=int(conversation_id), by=self.user
            )
            if not closed:
                await self.send_json(_error("This conversation is closed already.", "closed"))
        elif kind == "transfer":
            to = content.get("to_agent_id")
            await database_sync_to_async(services.conversation_transfer)(
                conversation_id=int(conversation_id),
                agent=self.user,
                to_agent_id=int(to) if to else None,
            )
        elif kind == "flag":
            await database_sync_to_async(services.message_flag)(
                message_id=int(content["message_id"]),
                agent=self.user,
                flag=str(content.get("flag", "")),
                note=str(content.get("note", "")),
            )
        elif kind == "faq_draft":
            faq = await database_sync_to_async(services.faq_draft_from_conversation)(
                conversation_id=int(conversation_id)
            )
            await self.send_json({"type": "faq_draft", "faq_id": faq.pk, "question": faq.question})
        elif kind == "typing":
            await database_sync_to_async(realtime.typing_broadcast)(
                conversation_id=int(conversation_id),
                who="agent",
                on=bool(content.get("on", True)),
                to_customer=True,
            )
        else:
            await self.send_json(_error(f"Unknown message type {kind!r}."))

    def error_frame(self, exc: Exception, content: dict[str, Any]) -> dict[str, Any]:
        if isinstance(exc, services.ConversationClosed | services.NotAllowed):
            return _error(str(exc), "not_allowed")
        if isinstance(exc, services.NotPermitted):
            return _error(str(exc), "forbidden")
        if isinstance(exc, services.EmailNotSent):
            return _error(str(exc), "email_not_sent")
        if isinstance(exc, Conversation.DoesNotExist):
            gone = _error("That conversation no longer exists (it was deleted).", "not_found")
            # The console drops it from its queue (`_open` has let go of a deleted one).
            gone["conversation_id"] = content.get("conversation_id") or self.opened
            return gone
        if isinstance(exc, Message.DoesNotExist):
            return _error("That message no longer exists (it was deleted).", "not_found")
        return super().error_frame(exc, content)

    async def _open(self, conversation_id: int) -> None:
        if self.opened:
            await self.channel_layer.group_discard(
                realtime.agents_group(self.opened), self.channel_name
            )
        self.opened = conversation_id
        await self.channel_layer.group_add(
            realtime.agents_group(conversation_id), self.channel_name
        )
        try:
            payload = await database_sync_to_async(selectors.conversation_transcript)(
                conversation_id=conversation_id
            )
        except Conversation.DoesNotExist:
            # Not left "open": later actions without an id would aim at a deleted conversation.
            await self.channel_layer.group_discard(
                realtime.agents_group(conversation_id), self.channel_name
            )
            self.opened = None
            raise
        await self.send_json(payload)
