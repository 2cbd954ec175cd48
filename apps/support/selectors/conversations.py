"""Conversation reads: transcripts, the queue, online agents, CSAT."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ..models import AgentPresence, Article, Conversation, Message
from ..retrieval import article_url, replies_suggest
from .knowledge import canned_response_list

log = logging.getLogger(__name__)
PRESENCE_TTL_S = 90


def message_public_view(message: Message) -> dict[str, Any]:
    """What the customer sees of a message (never sources, notes or flags)."""
    return {
        "id": message.pk,
        "sender": message.sender,
        "text": message.text,
        "client_id": message.client_id,
        "citations": message.citations,
        "kind": message.answer_kind,
        "rating": message.rating,
        "created_at": message.created_at.isoformat(),
    }


def message_agent_view(message: Message) -> dict[str, Any]:
    view = message_public_view(message)
    view.update(
        {
            "author": str(message.author) if message.author_id else "",
            "confidence": message.confidence,
            "intent": message.intent,
            "intent_confidence": message.intent_confidence,
            "sources": message.sources,
            "flag": message.flag,
            "flag_note": message.flag_note,
        }
    )
    return view


def messages_after(
    *, conversation_id: int, after_id: int = 0, include_notes: bool = False
) -> list[Message]:
    qs = Message.objects.filter(conversation_id=conversation_id, id__gt=after_id)
    if not include_notes:
        qs = qs.exclude(sender=Message.Sender.NOTE)
    return citations_current(list(qs.select_related("author").order_by("id")))


def citations_current(messages: list[Message]) -> list[Message]:
    """The messages with their citations as the articles are now (in memory, not saved).

    An answer keeps the links of the time it was written: a renamed article would show its old
    title, and one deleted or unpublished since would be a dead link ("No such article"). So a
    transcript shows each cited article's current title and address, and leaves out articles
    that are gone or no longer published (the sources stored for agents are kept as they were).
    """
    ids: set[int] = {
        c["article_id"]
        for m in messages
        for c in (m.citations or [])
        if isinstance(c, dict) and isinstance(c.get("article_id"), int)
    }
    if not ids:
        return messages
    live = {
        pk: {"article_id": pk, "title": title, "url": article_url(pk, url)}
        for pk, title, url in Article.objects.filter(
            pk__in=ids, status=Article.Status.PUBLISHED
        ).values_list("pk", "title", "url")
    }
    for message in messages:
        if message.citations:
            message.citations = [
                live[c["article_id"]]
                for c in message.citations
                if isinstance(c, dict) and c.get("article_id") in live
            ]
    return messages


def customer_label(conversation: Conversation) -> str:
    """Who the customer is, as far as the chat knows: a signed-in customer's name (their
    account's, else the one they gave) and email; else the name they gave; else "Visitor" and
    the conversation's number, so that two visitors can be told apart."""
    user = conversation.customer
    if user is not None:
        name = user.get_full_name().strip() or conversation.customer_name or user.get_username()
        return f"{name} ({user.email})" if user.email and user.email != name else name
    name = conversation.customer_name or f"Visitor {conversation.pk}"
    return f"{name} ({conversation.customer_email})" if conversation.customer_email else name


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    last = (
        Message.objects.filter(conversation_id=conversation.pk)
        .exclude(sender=Message.Sender.NOTE)
        .order_by("-id")
        .values_list("text", flat=True)
        .first()
    )
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "customer": customer_label(conversation),
        "assigned_agent": str(conversation.assigned_agent)
        if conversation.assigned_agent_id
        else None,
        "assigned_agent_id": conversation.assigned_agent_id,
        "handoff_reason": conversation.handoff_reason,
        "customer_email": conversation.customer_email,
        "last_message": (last or "")[:140],
        "last_message_at": conversation.last_message_at.isoformat(),
        "csat": conversation.csat,
    }


def conversation_engaged_filter() -> Q:
    """Conversations a customer actually started: asked something, asked for a human, or was
    joined by (or given to) an agent. The chat page greets every visitor, and a greeting alone
    is no conversation: not for the statistics, the console's queue or the conversation list."""
    asked = Message.objects.filter(conversation=OuterRef("pk"), sender=Message.Sender.CUSTOMER)
    return (
        Q(Exists(asked))
        | Q(handoff_at__isnull=False)
        | Q(taken_over_at__isnull=False)
        | Q(assigned_agent__isnull=False)
    )


def conversation_engaged(*, conversation_id: int) -> bool:
    return Conversation.objects.filter(conversation_engaged_filter(), pk=conversation_id).exists()


def conversation_list(
    *, status: str | None = None, include_idle: bool = False, kb_id: int | None = None
) -> QuerySet[Conversation]:
    """Conversations for agents; visits with only the bot's greeting are left out unless asked."""
    qs = Conversation.objects.select_related("assigned_agent", "customer")
    if not include_idle:
        qs = qs.filter(conversation_engaged_filter())
    if kb_id is not None:
        qs = qs.filter(kb_id=kb_id)
    return qs.filter(status=status) if status else qs


def queue_list(*, include_closed: int = 20) -> list[dict[str, Any]]:
    """Open conversations (waiting first), then the most recently closed ones; visits where
    the customer never wrote are no work for an agent and stay out."""
    engaged = Conversation.objects.filter(conversation_engaged_filter()).select_related(
        "assigned_agent"
    )
    open_qs = engaged.exclude(status=Conversation.Status.CLOSED).order_by("-last_message_at")[:200]
    closed = engaged.filter(status=Conversation.Status.CLOSED).order_by("-closed_at")[
        :include_closed
    ]
    return [conversation_summary(c) for c in [*open_qs, *closed]]


def agents_online() -> QuerySet[AgentPresence]:
    cutoff = timezone.now() - timedelta(seconds=PRESENCE_TTL_S)
    return AgentPresence.objects.filter(connections__gt=0, last_seen_at__gte=cutoff).select_related(
        "agent"
    )


def agents_online_list() -> list[dict[str, Any]]:
    """The agents online, as the console's "Transfer to" list shows them."""
    return [{"id": p.agent_id, "name": str(p.agent)} for p in agents_online().order_by("agent_id")]


def conversation_csat_get(*, conversation_id: int) -> int | None:
    """The customer's 1-5 rating of the conversation, None while not rated."""
    return Conversation.objects.filter(pk=conversation_id).values_list("csat", flat=True).first()


def conversation_by_token(*, token: str) -> Conversation | None:
    """The customer's conversation behind the chat link's token, or None."""
    return Conversation.objects.filter(token=token).first()


def conversation_transcript(*, conversation_id: int) -> dict[str, Any]:
    """What the agents' console shows on opening a conversation: its summary, every message
    (notes too), replies suggested for the customer's last question, the canned responses.

    Raises Conversation.DoesNotExist for a deleted one."""
    conversation = Conversation.objects.select_related("assigned_agent", "customer").get(
        pk=conversation_id
    )
    messages = list(messages_after(conversation_id=conversation_id, include_notes=True))
    last_question = next(
        (m.text for m in reversed(messages) if m.sender == Message.Sender.CUSTOMER), ""
    )
    suggestions = []
    if last_question:
        try:
            suggestions = [
                {
                    "kind": s.kind,
                    "question": s.question,
                    "reply": s.reply,
                    "score": round(s.score, 3),
                }
                for s in replies_suggest(kb_id=conversation.kb_id, query=last_question)
            ]
        except Exception:  # suggestions help; a transcript must open without them
            log.exception("suggestions failed")
    return {
        "type": "transcript",
        "conversation": conversation_summary(conversation),
        "messages": [message_agent_view(m) for m in messages],
        "suggestions": suggestions,
        "canned": [{"title": c.title, "text": c.text} for c in canned_response_list()],
    }


@dataclass(frozen=True)
class QueuePlace:
    """Where a waiting conversation stands: 1 = next; `usual_wait_s` is the median time from
    handoff to takeover over the last week (None before anyone was taken over)."""

    position: int
    usual_wait_s: float | None


def queue_place(*, conversation_id: int) -> QueuePlace | None:
    """The waiting conversation's place in the agents' queue, or None when it is not waiting."""
    conversation = Conversation.objects.filter(
        pk=conversation_id, status=Conversation.Status.WAITING
    ).first()
    if conversation is None:
        return None
    since = conversation.handoff_at or conversation.created_at
    ahead = (
        Conversation.objects.filter(status=Conversation.Status.WAITING, handoff_at__lt=since)
        .exclude(pk=conversation_id)
        .count()
    )
    recent = (
        Conversation.objects.filter(
            handoff_at__isnull=False,
            taken_over_at__isnull=False,
            taken_over_at__gte=timezone.now() - timedelta(days=7),
        )
        .order_by("-taken_over_at")
        .values_list("handoff_at", "taken_over_at")[:200]
    )
    waits = sorted(
        (taken - handed).total_seconds()
        for handed, taken in recent
        if handed is not None and taken is not None and taken >= handed
    )
    usual = waits[len(waits) // 2] if waits else None
    return QueuePlace(position=ahead + 1, usual_wait_s=usual)
