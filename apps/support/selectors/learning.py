"""Reads: proposed intent training rows, for the agents' review page and API."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from ..models import FAQ, Article, PastConversation, TrainingCandidate


def training_candidate_list(
    *,
    kb_id: int | None = None,
    status: str | None = None,
    source: str | None = None,
    intent: str | None = None,
    search: str = "",
) -> QuerySet[TrainingCandidate]:
    """Training rows, newest first; each filter None (or empty) leaves it out."""
    rows = TrainingCandidate.objects.select_related("reviewed_by").order_by("-id")
    if kb_id is not None:
        rows = rows.filter(kb_id=kb_id)
    if status:
        rows = rows.filter(status=status)
    if source:
        rows = rows.filter(source=source)
    if intent:
        rows = rows.filter(intent=intent)
    if search.strip():
        words = search.strip()
        rows = rows.filter(Q(question__icontains=words) | Q(answer__icontains=words))
    return rows


def training_candidate_counts(*, kb_id: int | None = None) -> dict[str, int]:
    """How many rows each status has (the page's filter tabs)."""
    rows = TrainingCandidate.objects.all()
    if kb_id is not None:
        rows = rows.filter(kb_id=kb_id)
    counts = dict.fromkeys(TrainingCandidate.Status.values, 0)
    for row in rows.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def intent_choices(*, kb_id: int | None = None) -> list[str]:
    """The intents an agent may file a training row under: those the knowledge base's articles,
    FAQ pairs and labelled past conversations carry, and those the model predicted."""
    found: set[str] = set()
    for model, field in (
        (Article, "intents"),
        (FAQ, "intent"),
        (PastConversation, "intent"),
        (TrainingCandidate, "intent"),
    ):
        rows = model.objects.all()
        if kb_id is not None:
            rows = rows.filter(kb_id=kb_id)
        for value in rows.order_by().values_list(field, flat=True).distinct():
            if isinstance(value, list):
                found.update(v for v in value if v)
            elif value:
                found.add(value)
    return sorted(found)
