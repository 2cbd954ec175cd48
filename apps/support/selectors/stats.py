"""Statistics: the support dashboard and the handoff threshold trade-off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..models import Conversation, KnowledgeBase, Message
from .conversations import agents_online, conversation_engaged_filter

# The KB settings page's trade-off grid; the `support_evaluate` command imports it, so the page
# and the command read alike.
TRADEOFF_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
ANSWER_KINDS = ("faq", "extractive", "generated")


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
    started = Conversation.objects.filter(conversation_engaged_filter(), created_at__gte=since)
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
    live = Conversation.objects.filter(conversation_engaged_filter())
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
