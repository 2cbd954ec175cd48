"""Reads of the recommender: settings, catalog snapshots, histories, recommendations, reports."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDay
from django.utils import timezone

from mlcore.recommend import (
    Catalog,
    CollabModel,
    HistoryEntry,
    Ranker,
    RecommenderModel,
    Rules,
    recommend,
)

from .models import Event, Experiment, Item, RecommenderSettings, Variant
from .services import CATALOG_VERSION_KEY, INDEX_NAME, MODEL_NAME, Shopper, id_parse

HISTORY_LIMIT = 50
CACHE_SECONDS = 300
SNAPSHOT_SECONDS = 60


# A purchase counts (trending, histories, ranker training) only when this server recorded it:
# the checkout, or a merchandiser's import. Old purchases a client sent through the tracker
# stay stored but weigh nothing. A/B conversion counts checkout purchases alone.
PURCHASE_SOURCES = (Event.Source.STOREFRONT, Event.Source.IMPORT)


def events_counted() -> QuerySet[Event]:
    """The events that may weigh in recommendations and training."""
    return Event.objects.filter(~Q(kind=Event.Kind.PURCHASE) | Q(source__in=PURCHASE_SOURCES))


def settings_get() -> RecommenderSettings:
    current, _ = RecommenderSettings.objects.get_or_create(pk=1)
    return current


# -- catalog snapshot ------------------------------------------------------------------------------
def trending_scores(*, half_life_days: float, weights: dict[str, float]) -> dict[int, float]:
    """Time-decayed popularity: each event's weight halves every `half_life_days`."""
    now = timezone.now()
    since = now - timedelta(days=max(half_life_days * 6, 7))
    rows = (
        events_counted()
        .filter(created__gte=since)
        .exclude(kind=Event.Kind.IMPRESSION)
        .annotate(day=TruncDay("created"))
        .values("item_id", "kind", "day")
        .annotate(n=Count("id"))
    )
    scores: dict[int, float] = {}
    for row in rows:
        age = max((now - row["day"]).total_seconds() / 86400.0, 0.0)
        value = row["n"] * weights.get(row["kind"], 1.0) * 0.5 ** (age / half_life_days)
        scores[row["item_id"]] = scores.get(row["item_id"], 0.0) + value
    return scores


_snapshot_lock = threading.Lock()
_snapshot: dict[str, Any] = {"key": None, "at": 0.0, "catalog": None}


def catalog_snapshot(*, fresh: bool = False) -> Catalog:
    """Active items with their vectors and trending scores; rebuilt when the catalog, the index
    or the settings change, and at most every minute otherwise (trending moves slowly)."""
    from apps.mlops.vectors import named_index

    index = named_index(INDEX_NAME).current()
    key = (cache.get(CATALOG_VERSION_KEY, 0), index.version, len(index))
    with _snapshot_lock:
        if (
            not fresh
            and _snapshot["key"] == key
            and time.monotonic() - _snapshot["at"] < SNAPSHOT_SECONDS
        ):
            cached: Catalog = _snapshot["catalog"]
            return cached
    config = settings_get()
    items = list(
        Item.objects.filter(active=True)
        .order_by("pk")
        .values_list("pk", "title", "category", "price", "stock", "created", "boost")
    )
    trending = trending_scores(
        half_life_days=config.trending_half_life_days, weights=config.weights()
    )
    now = timezone.now()
    vectors = np.zeros((len(items), index.dim), dtype=np.float32)
    for n, row in enumerate(items):
        vec = index.vector(row[0])
        if vec is not None:
            vectors[n] = vec
    catalog = Catalog(
        ids=np.array([r[0] for r in items], dtype=np.int64),
        vectors=vectors,
        titles=[r[1] for r in items],
        category=np.array([r[2] for r in items], dtype=object),
        price=np.array([float(r[3]) for r in items]),
        age_days=np.array([(now - r[5]).total_seconds() / 86400.0 for r in items]),
        available=np.array([r[4] > 0 for r in items], dtype=bool),
        boost=np.array([float(r[6]) for r in items]),
        popularity=np.array([trending.get(r[0], 0.0) for r in items]),
    )
    with _snapshot_lock:
        _snapshot.update(key=key, at=time.monotonic(), catalog=catalog)
    return catalog


def model_current() -> tuple[RecommenderModel, int | None]:
    """The production model, or an untrained one (text + trending) before the first training."""
    from apps.mlops.services import model_available, model_load, registry

    if model_available(MODEL_NAME):
        return model_load(MODEL_NAME), registry().resolve(MODEL_NAME)
    return RecommenderModel(collab=CollabModel.empty(), ranker=Ranker.default()), None


# -- shoppers --------------------------------------------------------------------------------------
def _shopper_filter(shopper: Shopper) -> Q:
    if shopper.user_id:
        return Q(user_id=shopper.user_id)
    return Q(visitor_id=shopper.visitor_id) if shopper.visitor_id else Q(pk__in=[])


def history_get(*, shopper: Shopper, weights: dict[str, float]) -> list[HistoryEntry]:
    """The shopper's recent interactions, newest first, weighted by kind and decayed with age."""
    rows = (
        events_counted()
        .filter(_shopper_filter(shopper))
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
        .filter(_shopper_filter(shopper), kind=Event.Kind.PURCHASE)
        .values_list("item_id", flat=True)
    )


# -- experiments -----------------------------------------------------------------------------------
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
        exposed: dict[str, Any] = {}
        for user_id, visitor_id, first in impressions.values_list("user_id", "visitor_id").annotate(
            first=Min("created")
        ):
            key = f"u{user_id}" if user_id else f"v{visitor_id}"
            exposed[key] = min(first, exposed.get(key, first))
        buyers = set()
        for user_id, visitor_id, last in (
            # Only the checkout's purchases: a conversion a client claimed proves nothing.
            events.filter(kind=Event.Kind.PURCHASE, source=Event.Source.STOREFRONT)
            .values_list("user_id", "visitor_id")
            .annotate(last=Max("created"))
        ):
            key = f"u{user_id}" if user_id else f"v{visitor_id}"
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


# -- recommendations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecommendedItem:
    id: int
    sku: str
    title: str
    category: str
    price: str
    image: str
    url: str
    score: float
    reason: str
    source: str


@dataclass(frozen=True)
class RecommendationList:
    shopper: str
    context: str
    strategy: str
    experiment: int | None
    variant: str
    model_version: int | None
    items: list[RecommendedItem]
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ContextError(ValueError):
    pass


def _context_history(context: str, cart: list[int]) -> tuple[list[HistoryEntry], bool]:
    """Entries the context puts in front of the history, and whether it replaces it."""
    if context in ("", "home"):
        return [], False
    if context == "cart":
        return [HistoryEntry(i, 10.0, "cart") for i in cart], False
    if context.startswith("item:"):
        item_id = id_parse(context.split(":", 1)[1])
        if item_id is None or not Item.objects.filter(pk=item_id).exists():
            raise ContextError(f"unknown item in context {context!r}")
        return [HistoryEntry(item_id, 10.0, "context")], False
    raise ContextError("context must be home, cart or item:<id>")


def recommendations_get(
    *,
    shopper: Shopper,
    context: str = "home",
    n: int = 10,
    cart: list[int] | None = None,
    strategy: str | None = None,
    only_context: bool = False,
) -> RecommendationList:
    """Recommendations with reasons, cached per shopper until their next event (or a catalog,
    settings or model change). `strategy` forces one (the storefront's "similar" and "bought
    together" rows); otherwise the running experiment or the shop default decides."""
    cart = sorted(set(cart or []))
    extra, _ = _context_history(context, cart)
    assignment = None if strategy else variant_assign(shopper_key=shopper.key)
    config = settings_get()
    chosen = strategy or (assignment.strategy if assignment else config.default_strategy)
    diversity = config.diversity
    if assignment and assignment.diversity is not None:
        diversity = assignment.diversity
    from apps.mlops.services import model_available, registry

    version = registry().resolve(MODEL_NAME) if model_available(MODEL_NAME) else None
    key = (
        "recommender:list:"
        + hashlib.sha1(
            repr(
                (
                    shopper.key,
                    cache.get(f"recommender:gen:{shopper.key}", 0),
                    cache.get(CATALOG_VERSION_KEY, 0),
                    version,
                    context,
                    n,
                    cart,
                    chosen,
                    only_context,
                    assignment,
                )
            ).encode()
        ).hexdigest()
    )
    hit = cache.get(key)
    if hit is not None:
        return RecommendationList(
            **{**hit, "items": [RecommendedItem(**i) for i in hit["items"]], "cached": True}
        )
    weights = config.weights()
    history = [] if only_context else history_get(shopper=shopper, weights=weights)
    exclude: set[int] = set(cart) | {e.item_id for e in extra if e.kind == "context"}
    bought = purchased_ids(shopper=shopper)
    if config.exclude_purchased:
        exclude |= bought
    catalog = catalog_snapshot()
    model, version = model_current()
    from apps.mlops.monitoring import inference_timer
    from apps.mlops.vectors import named_index

    index = named_index(INDEX_NAME)

    def text_search(vector: np.ndarray, k: int) -> list[int]:
        return [hit.id for hit in index.search(vector, k)]

    with inference_timer(MODEL_NAME, 1) as outputs:
        recs = recommend(
            catalog=catalog,
            model=model,
            history=extra + history,
            n=n,
            rules=Rules(
                exclude=frozenset(exclude),
                diversity=0.0 if only_context else float(diversity),
                category_cap=0 if only_context else int(config.category_cap),
                strategy=chosen,
                rebuy=frozenset() if config.exclude_purchased else frozenset(bought),
            ),
            text_search=text_search,
        )
        if recs:
            outputs.append((recs[0].source, 1.0))
    items = {i.pk: i for i in Item.objects.filter(pk__in=[r.item_id for r in recs])}
    result = RecommendationList(
        shopper=shopper.key,
        context=context or "home",
        strategy=chosen,
        experiment=assignment.experiment_id if assignment else None,
        variant=assignment.name if assignment else "",
        model_version=version,
        items=[
            RecommendedItem(
                id=r.item_id,
                sku=items[r.item_id].sku,
                title=items[r.item_id].title,
                category=items[r.item_id].category,
                price=str(items[r.item_id].price),
                image=items[r.item_id].image_src,
                url=items[r.item_id].get_absolute_url(),
                score=round(r.score, 4),
                reason=r.reason,
                source=r.source,
            )
            for r in recs
            if r.item_id in items
        ],
    )
    cache.set(key, result.as_dict(), CACHE_SECONDS)
    return result


def item_list(*, category: str = "", query: str = "") -> Any:
    # Text from the address: NUL is never in stored text, and PostgreSQL refuses it in a query.
    category, query = category.replace("\x00", ""), query.replace("\x00", "")
    items = Item.objects.filter(active=True)
    if category:
        items = items.filter(category=category)
    if query:
        items = items.filter(Q(title__icontains=query) | Q(description__icontains=query))
    return items


def categories() -> list[str]:
    return list(
        Item.objects.filter(active=True)
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def variants_of(experiment: Experiment) -> list[Variant]:
    return list(experiment.variants.all())
