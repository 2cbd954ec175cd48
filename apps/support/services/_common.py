"""Shared by the sub-modules: the chat's exceptions and the small writes every path makes
(touch, announce, the bot's message row, the no-agent notice, the colleague rule, embedding
later)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mlcore.language import language_detect

from .. import realtime
from ..answers import Answer
from ..models import FAQ, Conversation, KnowledgeBase, Message, PastConversation
from ..retrieval import reply_index_id
from ..selectors import queue_place

NO_AGENT_ONLINE_TEXT = (
    "No agent is online right now. Your conversation is queued, and an agent will reply here "
    "as soon as one is available."
)


QUEUE_NOTICE_EVERY_S = 60


def queue_notice_text(position: int, usual_wait_s: float | None) -> str:
    """What a waiting customer is told: their place and, once known, the usual wait."""
    place = (
        "You're next in the queue for a person."
        if position == 1
        else f"You're number {position} in the queue for a person."
    )
    if usual_wait_s is None:
        wait = ""
    elif usual_wait_s < 90:
        wait = " The usual wait is under two minutes."
    else:
        wait = f" The usual wait is about {round(usual_wait_s / 60)} minutes."
    return place + wait + " They will read everything you write here."


class ConversationClosed(Exception):
    """The conversation is closed; the customer should start a new one."""


class NotAllowed(Exception):
    """The action does not fit the conversation's state; the message says why."""


class TooManyMessages(Exception):
    """A customer writes faster than a person types (a script): the message is not stored."""


class NotPermitted(Exception):
    """This user may not do that to the conversation (it is a colleague's); the message says
    why. Pages and the API answer 403."""


def _content_changed(kb_id: int) -> None:
    KnowledgeBase.objects.filter(pk=kb_id).update(content_version=F("content_version") + 1)


def _embed_later(kb_id: int) -> None:
    # Cycle break: tasks imports the services (a task calls one service).
    from ..tasks import knowledge_embed_task

    transaction.on_commit(lambda: knowledge_embed_task.delay(kb_id))


def _reply_ids(kb_id: int) -> list[int]:
    """The reply index ids of a knowledge base's FAQ pairs and past conversations."""
    faqs = FAQ.objects.filter(kb_id=kb_id).values_list("id", flat=True)
    pasts = PastConversation.objects.filter(kb_id=kb_id).values_list("id", flat=True)
    return [reply_index_id("faq", pk) for pk in faqs] + [reply_index_id("past", pk) for pk in pasts]


def _conversation_lock(conversation_id: int) -> Conversation:
    """Lock the conversation's row for this transaction, so that it cannot be deleted before a
    message written to it commits; raises Conversation.DoesNotExist when it is gone already."""
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    return conversation


def _touch(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id).update(last_message_at=timezone.now())


def _announce(message: Message, *, queue: bool = False) -> None:
    def send() -> None:
        realtime.message_broadcast(message=message)
        if queue:
            realtime.conversation_broadcast(conversation_id=message.conversation_id)

    transaction.on_commit(send)


def _bot_message_create(
    conversation_id: int, answer: Answer, *, reply_to: int | None, sender: str = "bot"
) -> Message:
    return Message.objects.create(
        conversation_id=conversation_id,
        sender=sender,
        text=answer.text,
        language=language_detect(answer.text),
        answer_kind=answer.kind,
        confidence=answer.confidence,
        intent=answer.intent,
        intent_confidence=answer.intent_probability,
        sources=list(answer.sources),
        citations=list(answer.citations),
        reply_to_id=reply_to,
    )


def conversation_supervises(user: Any) -> bool:
    """Staff and superusers act as supervisors: they may close any agent's conversation."""
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def _colleague_refuse(conversation: Conversation, by: Any, what: str) -> None:
    """NotPermitted when an agent other than `by` has the conversation and `by` is no
    supervisor; `by` None (the system) may do anything."""
    colleagues = (
        conversation.status == Conversation.Status.AGENT
        and conversation.assigned_agent_id is not None
        and by is not None
        and conversation.assigned_agent_id != by.pk
    )
    if colleagues and not conversation_supervises(by):
        raise NotPermitted(
            f"{conversation.assigned_agent} has this conversation; only they or a supervisor "
            f"can {what}."
        )


def _no_agent_notice(conversation_id: int) -> None:
    """Tell a waiting customer that no agent is online (once in a row: an agent who comes and
    goes again does not repeat it)."""
    last = (
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(sender=Message.Sender.NOTE)
        .order_by("-pk")
        .values_list("answer_kind", flat=True)
        .first()
    )
    if last == "no_agent":
        return
    notice = Message.objects.create(
        conversation_id=conversation_id,
        sender=Message.Sender.SYSTEM,
        text=NO_AGENT_ONLINE_TEXT,
        answer_kind="no_agent",
    )
    _announce(notice)


def _queue_notice(conversation_id: int, *, force: bool = False) -> None:
    """Tell a waiting customer their place in the queue and the usual wait: on handoff
    (`force`) and when they write while waiting, at most once a minute, so the chat never
    goes silent after a handover."""
    place = queue_place(conversation_id=conversation_id)
    if place is None:
        return
    if not force:
        recent = Message.objects.filter(
            conversation_id=conversation_id,
            answer_kind="queue",
            created_at__gte=timezone.now() - timedelta(seconds=QUEUE_NOTICE_EVERY_S),
        )
        if recent.exists():
            return
    notice = Message.objects.create(
        conversation_id=conversation_id,
        sender=Message.Sender.SYSTEM,
        text=queue_notice_text(place.position, place.usual_wait_s),
        answer_kind="queue",
    )
    _announce(notice)
