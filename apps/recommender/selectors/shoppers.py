"""A shopper's history: weighted, decayed interactions and what they bought."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from mlcore.recommend import (
    HistoryEntry,
)

from ..models import Event
from ..services import Shopper
from ._common import events_counted

HISTORY_LIMIT = 50


def shopper_filter(shopper: Shopper) -> Q:
    if shopper.user_id:
        return Q(user_id=shopper.user_id)
    return Q(visitor_id=shopper.visitor_id) if shopper.visitor_id else Q(pk__in=[])


def history_get(*, shopper: Shopper, weights: dict[str, float]) -> list[HistoryEntry]:
    """The shopper's recent interactions, newest first, weighted by kind and decayed with age."""
    rows = (
        events_counted()
        .filter(shopper_filter(shopper))
        .exclude(kind=Event.Kind.IMPRESSION)
        .order_by("-created")
        .values_list("item_id", "kind", "created", "rating")[:HISTORY_LIMIT]
    )
    now = timezone.now()
    out = []
    for item_id, kind, created, rating in rows:
        weight = weights.get(kind, 1.0)
        if kind == Event.Kind.RATING and rating is not None:
            weight *= (rating - 2.0) / 3.0  # a 1-2 star review pushes similar items down
        age_days = (now - created).total_seconds() / 86400.0
        out.append(HistoryEntry(item_id, weight * 0.5 ** (age_days / 30.0), kind))
    return out


def purchased_ids(*, shopper: Shopper) -> set[int]:
    return set(
        events_counted()
        .filter(shopper_filter(shopper), kind=Event.Kind.PURCHASE)
        .values_list("item_id", flat=True)
    )
