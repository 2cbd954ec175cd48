"""Reads: knowledge, conversations, queue, presence, statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import (
    FAQ,
    AgentPresence,
    Article,
    CannedResponse,
    Conversation,
    KnowledgeBase,
    Message,
)

PRESENCE_TTL_S = 90
# The KB settings page's trade-off grid; the `support_evaluate` command imports it, so the page
# and the command read alike.
TRADEOFF_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
ANSWER_KINDS = ("faq", "extractive", "generated")


def knowledge_base_get(kb_id: int | None = None) -> KnowledgeBase:
    """The given KB, else the default one (the first created when none is marked default)."""
    if kb_id:
        return KnowledgeBase.objects.get(pk=kb_id)
    kb = KnowledgeBase.objects.filter(is_default=True).first() or KnowledgeBase.objects.first()
    if kb is None:
        raise KnowledgeBase.DoesNotExist("no knowledge base yet")
    return kb


def article_intents_map(*, kb_id: int) -> dict[int, tuple[str, ...]]:
    return {
        pk: tuple(intents or ())
        for pk, intents in Article.objects.filter(kb_id=kb_id).values_list("id", "intents")
    }


def article_list(*, kb_id: int | None = None, status: str | None = None) -> QuerySet[Article]:
    qs = Article.objects.all()
    if kb_id:
        qs = qs.filter(kb_id=kb_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def faq_list(*, kb_id: int | None = None, status: str | None = None) -> QuerySet[FAQ]:
    qs = FAQ.objects.all()
    if kb_id:
        qs = qs.filter(kb_id=kb_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def canned_response_list() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.all()


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
    from .retrieval import article_url

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
        "customer": conversation.customer_name or "Visitor",
        "assigned_agent": str(conversation.assigned_agent)
        if conversation.assigned_agent_id
        else None,
        "assigned_agent_id": conversation.assigned_agent_id,
        "handoff_reason": conversation.handoff_reason,
        "last_message": (last or "")[:140],
        "last_message_at": conversation.last_message_at.isoformat(),
        "csat": conversation.csat,
    }


def _engaged() -> Q:
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
    return Conversation.objects.filter(_engaged(), pk=conversation_id).exists()


def conversation_list(
    *, status: str | None = None, include_idle: bool = False, kb_id: int | None = None
) -> QuerySet[Conversation]:
    """Conversations for agents; visits with only the bot's greeting are left out unless asked."""
    qs = Conversation.objects.select_related("assigned_agent")
    if not include_idle:
        qs = qs.filter(_engaged())
    if kb_id is not None:
        qs = qs.filter(kb_id=kb_id)
    return qs.filter(status=status) if status else qs


def queue_list(*, include_closed: int = 20) -> list[dict[str, Any]]:
    """Open conversations (waiting first), then the most recently closed ones; visits where
    the customer never wrote are no work for an agent and stay out."""
    engaged = Conversation.objects.filter(_engaged()).select_related("assigned_agent")
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


def support_stats(*, days: int = 14) -> dict[str, Any]:
    """Queue size now, and per day: conversations, handoff rate, CSAT, bot resolution rate.

    A conversation counts as resolved by the bot when it never went to a human (no handoff, no
    agent took it over or was given it) and was closed or saw no message for 24 hours (the
    industry's usual definition). Visits where nobody asked anything are left out, from the
    counts of conversations open now too.
    """
    now = timezone.now()
    since = now - timedelta(days=days)
    stale = now - timedelta(hours=24)
    started = Conversation.objects.filter(_engaged(), created_at__gte=since)
    rows = (
        started.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            total=Count("id"),
            handed=Count("id", filter=Q(handoff_at__isnull=False)),
            bot_resolved=Count(
                "id",
                filter=Q(
                    handoff_at__isnull=True,
                    taken_over_at__isnull=True,
                    assigned_agent__isnull=True,
                )
                & (Q(status=Conversation.Status.CLOSED) | Q(last_message_at__lt=stale)),
            ),
            csat=Avg("csat"),
        )
        .order_by("day")
    )
    series = [
        {
            "day": row["day"].isoformat(),
            "conversations": row["total"],
            "handoff_rate": round(row["handed"] / row["total"], 4) if row["total"] else 0.0,
            "bot_resolution_rate": round(row["bot_resolved"] / row["total"], 4)
            if row["total"]
            else 0.0,
            "csat": round(row["csat"], 2) if row["csat"] is not None else None,
        }
        for row in rows
    ]
    totals = started.aggregate(
        total=Count("id"),
        handed=Count("id", filter=Q(handoff_at__isnull=False)),
        csat=Avg("csat"),
    )
    live = Conversation.objects.filter(_engaged())
    return {
        "queue_waiting": live.filter(status=Conversation.Status.WAITING).count(),
        "with_agent": live.filter(status=Conversation.Status.AGENT).count(),
        "with_bot": live.filter(status=Conversation.Status.BOT).count(),
        "agents_online": agents_online().count(),
        "conversations": totals["total"],
        "handoff_rate": round(totals["handed"] / totals["total"], 4) if totals["total"] else 0.0,
        "csat": round(totals["csat"], 2) if totals["csat"] is not None else None,
        "series": series,
    }


# -- handoff threshold trade-off from the stored history ---------------------------------------
@dataclass(frozen=True)
class ThresholdOutcome:
    """What one handoff threshold would have done to the bot's scored questions."""

    threshold: float
    answered: int
    handed_off: int
    answered_rate: float
    handoff_rate: float
    bad_caught: int
    good_lost: int
    is_current: bool


@dataclass(frozen=True)
class HandoffTradeoff:
    scored: int
    rated_bad: int
    rated_good: int
    since: datetime | None
    rows: tuple[ThresholdOutcome, ...]


def _scored_bot_messages(*, kb_id: int, since: datetime | None) -> QuerySet[Message]:
    # Handoffs for a human request or an empty search carry no sources and confidence 0: no
    # threshold changes them, so only low-confidence handoffs join the sent answers.
    qs = Message.objects.filter(
        conversation__kb_id=kb_id, sender=Message.Sender.BOT, confidence__isnull=False
    ).filter(Q(answer_kind__in=ANSWER_KINDS) | (Q(answer_kind="handoff") & ~Q(sources=[])))
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs


def handoff_tradeoff(
    *, kb: KnowledgeBase, days: int | None = 90, thresholds: Sequence[float] = TRADEOFF_THRESHOLDS
) -> HandoffTradeoff:
    """For each threshold, the share of the bot's past answers it would have handed off, and
    how many answers customers rated down (or agents flagged) it would have caught.

    Computed from the stored confidences, which are those of the calibration at the time.
    """
    since = timezone.now() - timedelta(days=days) if days else None
    grid = sorted({round(t, 4) for t in (*thresholds, kb.handoff_threshold)})
    # Only sent answers count as rated: a customer can also rate the handoff message itself.
    sent = Q(answer_kind__in=ANSWER_KINDS)
    bad = sent & (Q(rating=Message.Rating.DOWN) | ~Q(flag=""))
    good = sent & Q(rating=Message.Rating.UP, flag="")
    counts: dict[str, Any] = {
        "n": Count("id"),
        "bad": Count("id", filter=bad),
        "good": Count("id", filter=good),
    }
    for i, t in enumerate(grid):
        low = Q(confidence__lt=t)
        counts[f"low_{i}"] = Count("id", filter=low)
        counts[f"bad_{i}"] = Count("id", filter=low & bad)
        counts[f"good_{i}"] = Count("id", filter=low & good)
    totals = _scored_bot_messages(kb_id=kb.pk, since=since).aggregate(**counts)
    n = totals["n"]
    rows = []
    for i, t in enumerate(grid):
        handed = totals[f"low_{i}"]
        rows.append(
            ThresholdOutcome(
                threshold=t,
                answered=n - handed,
                handed_off=handed,
                answered_rate=round((n - handed) / n, 4) if n else 0.0,
                handoff_rate=round(handed / n, 4) if n else 0.0,
                bad_caught=totals[f"bad_{i}"],
                good_lost=totals[f"good_{i}"],
                is_current=abs(t - kb.handoff_threshold) < 1e-9,
            )
        )
    return HandoffTradeoff(
        scored=n, rated_bad=totals["bad"], rated_good=totals["good"], since=since, rows=tuple(rows)
    )


# -- draft FAQ review ------------------------------------------------------------------------
@dataclass(frozen=True)
class FaqDraftReview:
    """A draft FAQ pair with what decides whether the bot will send it once published."""

    faq: FAQ
    # The published pair the bot sends for this intent now (it picks the oldest one).
    current: FAQ | None
    # The bot sends an FAQ answer only when a top passage's article carries the intent.
    intent_on_articles: bool


def article_intents_published(*, kb_id: int) -> set[str]:
    found: set[str] = set()
    for intents in Article.objects.filter(kb_id=kb_id, status=Article.Status.PUBLISHED).values_list(
        "intents", flat=True
    ):
        found.update(intents or ())
    return found


def intents_known(*, kb_id: int) -> list[str]:
    """Intents the KB's published articles and FAQ pairs carry (suggestions for reviewers)."""
    found = article_intents_published(kb_id=kb_id)
    found.update(
        FAQ.objects.filter(kb_id=kb_id).exclude(intent="").values_list("intent", flat=True)
    )
    return sorted(found)


def faq_published_for_intent(*, kb_id: int, intent: str) -> FAQ | None:
    """The published pair `answer_compose` sends for this intent (the oldest), if any."""
    if not intent:
        return None
    qs = FAQ.objects.filter(kb_id=kb_id, status=FAQ.Status.PUBLISHED, intent=intent)
    return qs.order_by("id").first()


def faq_drafts_review(*, kb_id: int) -> list[FaqDraftReview]:
    drafts = list(
        FAQ.objects.filter(kb_id=kb_id, status=FAQ.Status.DRAFT)
        .select_related("source_conversation")
        .order_by("-created_at", "-id")
    )
    intents = {f.intent for f in drafts if f.intent}
    current: dict[str, FAQ] = {}
    for faq in FAQ.objects.filter(
        kb_id=kb_id, status=FAQ.Status.PUBLISHED, intent__in=intents
    ).order_by("-id"):
        current[faq.intent] = faq  # the last one written wins: the oldest, as answers pick it
    on_articles = article_intents_published(kb_id=kb_id)
    return [
        FaqDraftReview(
            faq=f, current=current.get(f.intent), intent_on_articles=f.intent in on_articles
        )
        for f in drafts
    ]


def knowledge_base_list() -> QuerySet[KnowledgeBase]:
    return KnowledgeBase.objects.all()
