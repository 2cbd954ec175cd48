"""Demo data: the shop's own catalog, simulated shoppers with category affinities and
"missions" (tent + sleeping bag + pad...), the text index, and a first ranker.

The data lives in demo_data/: `catalog.jsonl` is the catalog of "Trailhead & Hearth" (outdoor
gear, kitchen, home, electronics, books) as an import file, one item a line; `shoppers.json`
holds the product types (`product_types[n]` is the type of the skus TH-nnkk) and the missions,
product types shoppers tend to buy together.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.utils import timezone

from apps.mlops.services import model_available, model_train_here

from .catalog_import import items_import
from .models import Event, Item
from .services import MODEL_NAME, index_rebuild

SHOPPERS = 240
DEMO_PREFIX = "demo-"
DATA = Path(__file__).resolve().parent / "demo_data"


def catalog_content() -> str:
    """The demo catalog as the import reads it (JSON lines): the English catalog, then a few
    items with Chinese titles and descriptions (written for the demo)."""
    return (DATA / "catalog.jsonl").read_text(encoding="utf-8") + (
        DATA / "catalog_zh.jsonl"
    ).read_text(encoding="utf-8")


@cache
def _shoppers_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "shoppers.json").read_text(encoding="utf-8"))
    return data


def missions() -> list[list[str]]:
    """Product types shoppers tend to buy together (the simulated missions)."""
    return [list(m) for m in _shoppers_data()["missions"]]


def type_of_sku(rows: list[dict[str, Any]]) -> dict[str, str]:
    types = _shoppers_data()["product_types"]
    return {str(r["sku"]): types[int(str(r["sku"])[3:5])] for r in rows}


def shoppers_simulate(*, seed: int = 7, shoppers: int = SHOPPERS) -> int:
    """Sessions over the last 30 days: browse a mission's product types, add some to the cart,
    often buy them together, sometimes review; a little random browsing as noise."""
    rng = random.Random(seed)
    mission_types = missions()
    items = list(Item.objects.filter(sku__startswith="TH-").values_list("pk", "sku", "stock"))
    types = type_of_sku([{"sku": sku} for _, sku, _ in items])
    by_type: dict[str, list[int]] = {}
    for pk, sku, _ in items:
        by_type.setdefault(types[sku], []).append(pk)
    in_stock = {pk for pk, _, stock in items if stock > 0}
    all_ids = [pk for pk, _, _ in items]
    now = timezone.now()
    events: list[Event] = []
    for s in range(shoppers):
        visitor = f"{DEMO_PREFIX}shopper-{s:04d}"
        favourites = rng.sample(range(len(mission_types)), 2)
        # Each shopper has a taste for a few product lines (a brand affinity).
        taste = rng.randrange(8)
        clock = now - timedelta(days=rng.uniform(5, 30))
        n = 0
        for _session in range(rng.randint(1, 4)):
            mission = mission_types[rng.choice(favourites)]
            wanted = [t for t in mission if rng.random() < 0.75] or [mission[0]]
            for product_type in wanted:
                pool = sorted(by_type.get(product_type, []))
                if not pool:
                    continue
                liked = pool[taste % len(pool)] if rng.random() < 0.5 else rng.choice(pool)
                looked = {liked, *rng.sample(pool, min(len(pool), rng.randint(0, 3)))}
                for pk in looked:
                    clock += timedelta(minutes=rng.uniform(0.5, 6))
                    events.append(_event(visitor, n, "view", pk, clock))
                    n += 1
                if liked in in_stock and rng.random() < 0.7:
                    clock += timedelta(minutes=rng.uniform(1, 4))
                    events.append(_event(visitor, n, "add_to_cart", liked, clock))
                    n += 1
                    if rng.random() < 0.65:
                        events.append(_event(visitor, n, "purchase", liked, clock))
                        n += 1
                        if rng.random() < 0.15:
                            events.append(
                                _event(
                                    visitor,
                                    n,
                                    "rating",
                                    liked,
                                    clock,
                                    rating=rng.choice([4, 5, 5, 3]),
                                )
                            )
                            n += 1
            if rng.random() < 0.3:
                clock += timedelta(minutes=2)
                events.append(_event(visitor, n, "view", rng.choice(all_ids), clock))
                n += 1
            clock += timedelta(days=rng.uniform(0.5, 6))
            if clock > now:
                break
    Event.objects.bulk_create(events, ignore_conflicts=True, batch_size=2000)
    return len(events)


def _event(visitor: str, n: int, kind: str, item_id: int, when, rating=None) -> Event:  # type: ignore[no-untyped-def]
    return Event(
        event_id=f"{visitor}-{n}",
        kind=kind,
        source=Event.Source.IMPORT,
        item_id=item_id,
        visitor_id=visitor,
        rating=rating,
        text="Exactly as described, would buy again." if rating and rating >= 4 else "",
        created=min(when, timezone.now()),
    )


def demo_load(*, log: Callable[[str], None] = print, train: bool = True) -> None:
    result = items_import(content=catalog_content(), fmt="jsonl", embed=False)
    log(f"   catalog: {result.created} new, {result.updated} updated, {len(result.errors)} errors")
    if Event.objects.filter(event_id__startswith=DEMO_PREFIX).exists():
        log("   simulated shoppers: already loaded")
    else:
        log(f"   simulated shoppers: {shoppers_simulate()} events")
    log(f"   text index: {index_rebuild()} items embedded")
    if train:
        demo_train(log=log)


def demo_train(*, log: Callable[[str], None] = print, max_steps: int | None = None) -> None:
    """Train the demo ranker on the simulated shoppers unless one is in production (it fits
    in seconds, so `max_steps`, the fine-tuning cap of the other demo models, is not used)."""
    if model_available(MODEL_NAME):
        return
    run = model_train_here(name=MODEL_NAME, params={}, log=log)
    log(f"   ranker: ndcg@10={run.metrics.get('ndcg@10', 0):.4f}; {run.promotion_result}")
