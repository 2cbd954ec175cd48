"""The catalog as the engine sees it (a snapshot with trending scores), the model, listings."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import TruncDay
from django.utils import timezone

from apps.mlops.services import model_available, model_load, registry
from mlcore.recommend import (
    Catalog,
    CollabModel,
    Ranker,
    RecommenderModel,
)

from ..models import Event, Item
from ..services import CATALOG_VERSION_KEY, MODEL_NAME, catalog_embedding_model, catalog_index
from ._common import events_counted, settings_get

SNAPSHOT_SECONDS = 60


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
    model = catalog_embedding_model()
    index = catalog_index(model).current()
    key = (cache.get(CATALOG_VERSION_KEY, 0), model, index.version, len(index))
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
    item_vectors = np.zeros((len(items), index.dim), dtype=np.float32)
    for n, row in enumerate(items):
        vec = index.vector(row[0])
        if vec is not None:
            item_vectors[n] = vec
    catalog = Catalog(
        ids=np.array([r[0] for r in items], dtype=np.int64),
        vectors=item_vectors,
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
    if model_available(MODEL_NAME):
        return model_load(MODEL_NAME), registry().resolve(MODEL_NAME)
    return RecommenderModel(collab=CollabModel.empty(), ranker=Ranker.default()), None


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


def catalog_counts() -> dict[str, int]:
    """What the management page counts: items (all and active) and stored events."""
    return {
        "items_total": Item.objects.count(),
        "items_active": Item.objects.filter(active=True).count(),
        "events_total": Event.objects.count(),
    }
