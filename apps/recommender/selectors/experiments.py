"""A/B experiments: a shopper's variant (a stable hash) and the per-variant report."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Min

from ..models import Event, Experiment, Variant


@dataclass(frozen=True)
class Assignment:
    experiment_id: int
    name: str
    strategy: str
    diversity: float | None


def _bucket(experiment_id: int, shopper_key: str, total: int) -> int:
    digest = hashlib.sha256(f"{experiment_id}:{shopper_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def variant_assign(*, shopper_key: str) -> Assignment | None:
    """The running experiment's variant for this shopper: a stable hash, no stored state."""
    experiment = (
        Experiment.objects.filter(status=Experiment.Status.RUNNING)
        .prefetch_related("variants")
        .first()
    )
    if experiment is None:
        return None
    variants = list(experiment.variants.all())
    total = sum(v.weight for v in variants)
    if not total:
        return None
    point = _bucket(experiment.pk, shopper_key, total)
    for variant in variants:
        if point < variant.weight:
            return Assignment(experiment.pk, variant.name, variant.strategy, variant.diversity)
        point -= variant.weight
    return None


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float, float]:
    """The rate and its Wilson score interval (sound for small counts and rates near 0)."""
    if trials <= 0:
        return 0.0, 0.0, 0.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class VariantReport:
    name: str
    strategy: str
    weight: int
    shoppers: int
    impressions: int
    clicks: int
    ctr: float
    ctr_low: float
    ctr_high: float
    converted: int
    conversion: float
    conversion_low: float
    conversion_high: float


def experiment_report(*, experiment: Experiment) -> list[VariantReport]:
    """Per variant: CTR = clicks on recommendations / impressions; conversion = exposed shoppers
    who bought / exposed shoppers; both with 95% Wilson intervals."""
    out = []
    for variant in experiment.variants.all():
        events = Event.objects.filter(experiment=experiment, variant=variant.name)
        impressions = events.filter(kind=Event.Kind.IMPRESSION)
        # Each exposed shopper's first exposure; only a purchase after it is a conversion.
        # Rows naming no shopper (a deleted account's, without a visitor id) count as
        # impressions but as no shopper: under one empty key they would be one shopper.
        exposed: dict[str, Any] = {}
        named = impressions.exclude(user=None, visitor_id="")
        for user_id, visitor_id, first in named.values_list("user_id", "visitor_id").annotate(
            first=Min("created")
        ):
            key = Event.shopper_key(user_id, visitor_id)
            exposed[key] = min(first, exposed.get(key, first))
        buyers = set()
        for user_id, visitor_id, last in (
            # Only the checkout's purchases: a conversion a client claimed proves nothing.
            events.filter(kind=Event.Kind.PURCHASE, source=Event.Source.STOREFRONT)
            .values_list("user_id", "visitor_id")
            .annotate(last=Max("created"))
        ):
            key = Event.shopper_key(user_id, visitor_id)
            if key in exposed and last >= exposed[key]:
                buyers.add(key)
        n_impressions = impressions.count()
        clicks = events.filter(kind=Event.Kind.CLICK, from_recommendation=True).count()
        clicks = min(clicks, n_impressions)
        ctr = wilson(clicks, n_impressions)
        conv = wilson(len(buyers), len(exposed))
        out.append(
            VariantReport(
                name=variant.name,
                strategy=variant.get_strategy_display(),
                weight=variant.weight,
                shoppers=len(exposed),
                impressions=n_impressions,
                clicks=clicks,
                ctr=ctr[0],
                ctr_low=ctr[1],
                ctr_high=ctr[2],
                converted=len(buyers),
                conversion=conv[0],
                conversion_low=conv[1],
                conversion_high=conv[2],
            )
        )
    return out


def variants_of(experiment: Experiment) -> list[Variant]:
    return list(experiment.variants.all())
