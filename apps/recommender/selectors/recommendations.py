"""One shopper's recommendation list: context, variant, cache, the engine, item details."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.core.cache import cache

from apps.mlops.runtime import inference_timer
from apps.mlops.services import model_available, registry
from mlcore.recommend import (
    HistoryEntry,
    Rules,
    recommend,
)

from ..models import Item
from ..services import CATALOG_VERSION_KEY, MODEL_NAME, Shopper, catalog_index, id_parse
from ._common import settings_get
from .catalog import catalog_snapshot, model_current
from .experiments import variant_assign
from .shoppers import history_get, purchased_ids

CACHE_SECONDS = 300


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
    index = catalog_index()

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
