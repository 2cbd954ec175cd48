"""Sources and after-ranking steps of one rail: bought together (co-purchases, then
complementary categories), cold start from the shopper's attributes, boosts, pins, the label."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mlcore.recommend import Catalog, Recommendation

from ..models import Item, Rail, ShopperProfile
from .serving import (
    Filters,
    Placements,
    co_purchases,
    complementary_categories,
    region_popular,
)

PINNED_REASON = "Featured by the shop"


@dataclass(frozen=True)
class Placed:
    """A recommendation with what the merchandiser did to it ("" | "pinned" | "boosted x2")."""

    rec: Recommendation
    placement: str = ""


def _open(catalog: Catalog, blocked: set[int] | frozenset[int], item_id: int) -> bool:
    row = catalog.row.get(item_id)
    return row is not None and bool(catalog.available[row]) and item_id not in blocked


def together_get(
    *,
    item: Item,
    catalog: Catalog,
    blocked: set[int],
    filters: Filters,
    want: int,
    engine: Callable[[set[int]], list[Recommendation]],
) -> list[Recommendation]:
    """Items bought by the same shoppers in other categories ("Often bought with X"), then
    items of the categories those shoppers buy alongside this one ("Goes well with X"); never an
    item of the same category (a substitute). `engine(excluded)` ranks the second part."""
    out = [
        Recommendation(item_id, float(n), f"Often bought with {item.title}", "co-purchase")
        for item_id, n in co_purchases(item=item)
        if _open(catalog, blocked, item_id)
    ][:want]
    if len(out) < want:
        complements = set(complementary_categories(category=item.category)) - {item.category}
        if complements:
            taken = (
                blocked | {r.item_id for r in out} | filters.within(complements).refused(catalog)
            )
            out += [
                Recommendation(r.item_id, r.score, f"Goes well with {item.title}", "complementary")
                for r in engine(taken)
            ][: want - len(out)]
    return out


def cold_start_get(
    *, profile: ShopperProfile, catalog: Catalog, blocked: set[int], want: int
) -> list[Recommendation]:
    """Before any history: the region's favourites and the trending items of the categories the
    shopper said they shop for, interleaved."""
    region = [
        Recommendation(i, 1.0, "Popular in your region", "region")
        for i in (region_popular(region=profile.region) if profile.region else [])
        if _open(catalog, blocked, i)
    ]
    interests = [str(c) for c in profile.interests or []]
    liked = [
        Recommendation(
            int(catalog.ids[row]),
            0.5,
            f"Because you shop for {catalog.category[row]}",
            "interest",
        )
        for row in catalog.trending_order.tolist()
        if str(catalog.category[row]) in interests
        and _open(catalog, blocked, int(catalog.ids[row]))
    ]
    out: list[Recommendation] = []
    seen: set[int] = set()
    for pair in zip(region, liked, strict=False):
        for rec in pair:
            if rec.item_id not in seen:
                seen.add(rec.item_id)
                out.append(rec)
    longer = region if len(region) > len(liked) else liked
    out += [r for r in longer[min(len(region), len(liked)) :] if r.item_id not in seen]
    return out[:want]


def placements_apply(
    *,
    recs: Sequence[Recommendation],
    placements: Placements,
    catalog: Catalog,
    blocked: set[int],
    n: int,
) -> list[Placed]:
    """Boosts reorder what ranking found (an item's rank is divided by its factor), then pins
    take their positions; a pinned item outside the filters, out of stock or already shown
    stays out."""
    order = sorted(
        range(len(recs)), key=lambda j: ((j + 1) / placements.boosts.get(recs[j].item_id, 1.0), j)
    )
    placed = [
        Placed(
            recs[j],
            f"boosted x{placements.boosts[recs[j].item_id]:g}"
            if recs[j].item_id in placements.boosts
            else "",
        )
        for j in order
    ]
    pins = [(pos, item_id) for pos, item_id in placements.pins if _open(catalog, blocked, item_id)]
    pinned_ids = {item_id for _, item_id in pins}
    placed = [p for p in placed if p.rec.item_id not in pinned_ids]
    for position, item_id in pins:
        rec = Recommendation(item_id, 0.0, PINNED_REASON, "pinned")
        placed.insert(min(position - 1, len(placed)), Placed(rec, "pinned"))
    return placed[:n]


def rail_label(rail: str, sources: Sequence[str]) -> str:
    """What the rail's heading may truthfully say, given where its items came from."""
    found = set(sources) - {"pinned"}
    if rail == Rail.TOGETHER:
        return "Often bought together" if "co-purchase" in found else "Goes well with"
    if rail == Rail.SIMILAR:
        return "Similar items"
    if rail == Rail.CART:
        return "Complete your order"
    if rail == Rail.TRENDING or (found and found <= {"trending", "new"}):
        return "Trending now"
    if found == {"region"}:
        return "Popular in your region"
    if found and found <= {"region", "interest", "trending", "new"}:
        return "Picked for you"
    return "Recommended for you"
