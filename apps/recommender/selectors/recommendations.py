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

from ..models import Item, Rail
from ..services import CATALOG_VERSION_KEY, MODEL_NAME, Shopper, catalog_index, id_parse
from ._common import settings_get
from .catalog import catalog_snapshot, model_current
from .experiments import variant_assign
from .rails import Placed, cold_start_get, placements_apply, rail_label, together_get
from .serving import Filters, placements_get, profile_get, suppressed_ids
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
    placement: str = ""


@dataclass(frozen=True)
class RecommendationList:
    shopper: str
    context: str
    strategy: str
    experiment: int | None
    variant: str
    model_version: int | None
    items: list[RecommendedItem]
    rail: str = Rail.FOR_YOU.value
    label: str = ""
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
    rail: str = Rail.FOR_YOU,
    filters: Filters | None = None,
    exclude: frozenset[int] = frozenset(),
) -> RecommendationList:
    """One rail's recommendations with reasons, cached per shopper until their next event (or a
    catalog, settings, model, pin or boost change). `strategy` forces one (the storefront's
    "similar" row); otherwise the running experiment or the shop default decides.

    Serving around the ranking: `filters` (category, price), items the shopper keeps ignoring
    (suppressed), `exclude` (what other rails of the page already show), cold start from the
    shopper's attributes, then the merchandiser's boosts and pins."""
    rail = str(rail)
    filters = filters or Filters()
    cart = sorted(set(cart or []))
    extra, _ = _context_history(context, cart)
    if rail in (Rail.TOGETHER, Rail.SIMILAR) and not context.startswith("item:"):
        raise ContextError(f"the {rail} rail needs context item:<id>")
    assignment = (
        None if strategy or rail == Rail.TOGETHER else variant_assign(shopper_key=shopper.key)
    )
    config = settings_get()
    chosen = strategy or (assignment.strategy if assignment else config.default_strategy)
    diversity = config.diversity
    if assignment and assignment.diversity is not None:
        diversity = assignment.diversity
    version = registry().resolve(MODEL_NAME) if model_available(MODEL_NAME) else None
    suppressed = suppressed_ids(shopper=shopper)
    placements = placements_get(rail=rail)
    profile = profile_get(shopper=shopper) if rail == Rail.FOR_YOU and not extra else None
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
                    rail,
                    filters.key(),
                    sorted(exclude),
                    sorted(suppressed),
                    placements.key(),
                    (profile.region, profile.interests) if profile else None,
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
    catalog = catalog_snapshot()
    # Pins obey the filters, the page and the exclusions, but not suppression (the shop's call).
    shown: set[int] = set(exclude) | set(cart) | {e.item_id for e in extra if e.kind == "context"}
    bought = purchased_ids(shopper=shopper)
    if config.exclude_purchased:
        shown |= bought
    shown |= filters.refused(catalog)
    page_item = Item.objects.get(pk=extra[0].item_id) if rail == Rail.TOGETHER else None
    if page_item is not None:
        # Not even a pin puts a substitute (the same category) beside the item.
        same = catalog.category == page_item.category
        shown |= {int(i) for i in catalog.ids[same].tolist()}
    blocked = shown | suppressed
    # Room for boosts to lift an item from below the cut, and for pins to push others down.
    want = n + len(placements.pins) + (n if placements.boosts else 0)
    model, version = model_current()
    index = catalog_index()

    def text_search(vector: np.ndarray, k: int) -> list[int]:
        return [hit.id for hit in index.search(vector, k)]

    def engine(excluded: set[int], how: str = chosen, plain: bool = only_context) -> list[Any]:
        return recommend(
            catalog=catalog,
            model=model,
            history=extra + history,
            n=want,
            rules=Rules(
                exclude=frozenset(excluded),
                diversity=0.0 if plain else float(diversity),
                category_cap=0 if plain else int(config.category_cap),
                strategy=how,
                rebuy=frozenset() if config.exclude_purchased else frozenset(bought),
            ),
            text_search=text_search,
        )

    with inference_timer(MODEL_NAME, 1) as outputs:
        if page_item is not None:
            recs = together_get(
                item=page_item,
                catalog=catalog,
                blocked=blocked,
                filters=filters,
                want=want,
                engine=lambda taken: engine(taken, "ranker", True),
            )
        else:
            recs = []
            if profile is not None and not history:
                recs = cold_start_get(profile=profile, catalog=catalog, blocked=blocked, want=want)
            if len(recs) < want:
                recs += engine(blocked | {r.item_id for r in recs})[: want - len(recs)]
            if rail == Rail.SIMILAR:
                # Only what is like the item: trending fillers belong to other rails.
                recs = [r for r in recs if r.source == "text"]
        if recs:
            outputs.append((recs[0].source, 1.0))
    placed = placements_apply(recs=recs, placements=placements, catalog=catalog, blocked=shown, n=n)
    return _listed(
        placed,
        shopper=shopper,
        context=context,
        strategy=chosen,
        assignment=assignment,
        version=version,
        rail=rail,
        key=key,
    )


def _listed(
    placed: list[Placed],
    *,
    shopper: Shopper,
    context: str,
    strategy: str,
    assignment: Any,
    version: int | None,
    rail: str,
    key: str,
) -> RecommendationList:
    items = {i.pk: i for i in Item.objects.filter(pk__in=[p.rec.item_id for p in placed])}
    result = RecommendationList(
        shopper=shopper.key,
        context=context or "home",
        strategy=strategy,
        experiment=assignment.experiment_id if assignment else None,
        variant=assignment.name if assignment else "",
        model_version=version,
        rail=rail,
        label=rail_label(rail, [p.rec.source for p in placed]),
        items=[
            RecommendedItem(
                id=p.rec.item_id,
                sku=items[p.rec.item_id].sku,
                title=items[p.rec.item_id].title,
                category=items[p.rec.item_id].category,
                price=str(items[p.rec.item_id].price),
                image=items[p.rec.item_id].image_src,
                url=items[p.rec.item_id].get_absolute_url(),
                score=round(p.rec.score, 4),
                reason=p.rec.reason,
                source=p.rec.source,
                placement=p.placement,
            )
            for p in placed
            if p.rec.item_id in items
        ],
    )
    cache.set(key, result.as_dict(), CACHE_SECONDS)
    return result


def _ids(*lists: RecommendationList) -> frozenset[int]:
    return frozenset(i.id for one in lists for i in one.items)


def item_rails(
    *, shopper: Shopper, item_id: int, filters: Filters | None = None, n: int = 6
) -> list[RecommendationList]:
    """An item page's rails, each without what an earlier one shows: bought together (never
    the same kind of item), similar items, then the shopper's own."""
    context = f"item:{item_id}"
    together = recommendations_get(
        shopper=shopper,
        context=context,
        n=n,
        rail=Rail.TOGETHER,
        filters=filters,
        only_context=True,
    )
    similar = recommendations_get(
        shopper=shopper,
        context=context,
        n=n,
        rail=Rail.SIMILAR,
        filters=filters,
        strategy="text",
        only_context=True,
        exclude=_ids(together),
    )
    for_you = recommendations_get(
        shopper=shopper, context=context, n=n, filters=filters, exclude=_ids(together, similar)
    )
    return [together, similar, for_you]


def home_rails(
    *, shopper: Shopper, filters: Filters | None = None, n: int = 8
) -> list[RecommendationList]:
    """The home page's rails: the shopper's own, then trending without repeats. A shopper with
    nothing to go on gets one trending rail, not two."""
    for_you = recommendations_get(shopper=shopper, context="home", n=n, filters=filters)
    # Nothing personal to show: the trending rail alone, in full.
    personal = for_you.label != "Trending now" or any(i.placement for i in for_you.items)
    trending = recommendations_get(
        shopper=shopper,
        context="home",
        n=n,
        rail=Rail.TRENDING,
        filters=filters,
        strategy="popular",
        exclude=_ids(for_you) if personal else frozenset(),
    )
    return [for_you, trending] if personal else [trending]
