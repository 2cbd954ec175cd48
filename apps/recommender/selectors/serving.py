"""What serving adds around the ranking: the shopper's filters, suppression of items they keep
ignoring, the merchandiser's pins and boosts, and the cold-start and co-purchase sources."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from mlcore.recommend import Catalog

from ..models import Boost, Event, Item, Pin, Rail, ShopperProfile
from ..services import PRICE_LIMIT, Shopper
from ._common import PURCHASE_SOURCES, events_counted
from .catalog import categories
from .shoppers import shopper_filter

SUPPRESS_WINDOW_DAYS = 30
REGION_WINDOW_DAYS = 30
RAILS = tuple(Rail.values)


@dataclass(frozen=True)
class Filters:
    """What a shopper narrowed a list to; empty = everything."""

    categories: frozenset[str] = frozenset()
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    def __bool__(self) -> bool:
        return bool(self.categories) or self.min_price is not None or self.max_price is not None

    def key(self) -> tuple[Any, ...]:
        return (sorted(self.categories), str(self.min_price), str(self.max_price))

    def within(self, allowed: set[str]) -> Filters:
        """The same filters, narrowed further to `allowed` categories."""
        cats = frozenset(allowed) & self.categories if self.categories else frozenset(allowed)
        return Filters(cats, self.min_price, self.max_price)

    def refused(self, catalog: Catalog) -> set[int]:
        """Catalog ids outside the filters (the engine excludes them before selecting)."""
        keep = np.ones(len(catalog), dtype=bool)
        if self.categories or self.min_price is not None or self.max_price is not None:
            if self.categories:
                keep &= np.isin(catalog.category, list(self.categories))
            if self.min_price is not None:
                keep &= catalog.price >= float(self.min_price)
            if self.max_price is not None:
                keep &= catalog.price <= float(self.max_price)
        return {int(i) for i in catalog.ids[~keep].tolist()}

    def admits(self, category: str, price: Decimal) -> bool:
        return (
            (not self.categories or category in self.categories)
            and (self.min_price is None or price >= self.min_price)
            and (self.max_price is None or price <= self.max_price)
        )


class FilterError(ValueError):
    """Filters that cannot be applied; `errors` maps each parameter to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _price(raw: str, name: str, errors: dict[str, str]) -> Decimal | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors[name] = f"{name} must be a number, not {raw[:20]!r}"
        return None
    if not value.is_finite() or value < 0 or value > PRICE_LIMIT:
        errors[name] = f"{name} must be between 0 and {PRICE_LIMIT}"
        return None
    return value


def filters_parse(params: Any) -> Filters:
    """Filters from query parameters (`category` once or comma-separated, `min_price`,
    `max_price`); a FilterError names each bad one."""
    errors: dict[str, str] = {}
    wanted: set[str] = set()
    for raw in params.getlist("category") if hasattr(params, "getlist") else []:
        wanted |= {c.strip() for c in str(raw).replace("\x00", "").split(",") if c.strip()}
    if wanted:
        unknown = sorted(wanted - set(categories()))
        if unknown:
            errors["category"] = f"no products in category {', '.join(unknown)[:200]}"
    low = _price(str(params.get("min_price", "")), "min_price", errors)
    high = _price(str(params.get("max_price", "")), "max_price", errors)
    if low is not None and high is not None and low > high:
        errors["max_price"] = "max_price must not be below min_price"
    if errors:
        raise FilterError(errors)
    return Filters(frozenset(wanted), low, high)


def suppressed_ids(*, shopper: Shopper) -> frozenset[int]:
    """Items shown to this shopper at least RECOMMENDER_SUPPRESS_AFTER times (in the last 30
    days) since they last clicked, viewed, carted or bought them."""
    limit = int(getattr(settings, "RECOMMENDER_SUPPRESS_AFTER", 3))
    who = shopper_filter(shopper)
    if limit <= 0 or not (shopper.user_id or shopper.visitor_id):
        return frozenset()
    since = timezone.now() - timedelta(days=SUPPRESS_WINDOW_DAYS)
    shown = list(
        Event.objects.filter(who, kind=Event.Kind.IMPRESSION, created__gte=since)
        .order_by("-created")
        .values_list("item_id", "created")[:5000]
    )
    if not shown:
        return frozenset()
    engaged = dict(
        Event.objects.filter(who, item_id__in={i for i, _ in shown}, created__gte=since)
        .exclude(kind=Event.Kind.IMPRESSION)
        .values("item_id")
        .annotate(last=Max("created"))
        .values_list("item_id", "last")
    )
    counts: Counter[int] = Counter(
        item for item, at in shown if item not in engaged or at > engaged[item]
    )
    return frozenset(item for item, n in counts.items() if n >= limit)


# -- pins and boosts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Placements:
    pins: tuple[tuple[int, int], ...]  # (position, item id), positions from 1
    boosts: dict[int, float]

    def key(self) -> tuple[Any, ...]:
        return (self.pins, sorted(self.boosts.items()))


def placements_get(*, rail: str) -> Placements:
    """The rail's pins and the boosts in force now (the newest boost of an item wins)."""
    pins = tuple(Pin.objects.filter(rail=rail).order_by("position").values_list("position", "item"))
    boosts: dict[int, float] = {}
    for item_id, factor in (
        Boost.objects.filter(expires_at__gt=timezone.now())
        .order_by("created")
        .values_list("item_id", "factor")
    ):
        boosts[item_id] = factor
    return Placements(pins, boosts)


# -- cold start: the shopper's attributes ----------------------------------------------------------
def profile_get(*, shopper: Shopper) -> ShopperProfile | None:
    if not shopper.user_id:
        return None
    return ShopperProfile.objects.filter(user_id=shopper.user_id).first()


def region_popular(*, region: str, limit: int = 50) -> list[int]:
    """Items that shoppers of this region engaged with most in the last 30 days (purchases
    count five times a view)."""
    users = ShopperProfile.objects.filter(region=region).values("user_id")
    since = timezone.now() - timedelta(days=REGION_WINDOW_DAYS)
    score: Counter[int] = Counter()
    for item_id, kind, n in (
        events_counted()
        .filter(user_id__in=users, created__gte=since)
        .exclude(kind=Event.Kind.IMPRESSION)
        .values_list("item_id", "kind")
        .annotate(n=Count("id"))
    ):
        score[item_id] += n * (5 if kind == Event.Kind.PURCHASE else 1)
    return [item for item, _ in score.most_common(limit)]


# -- bought together -------------------------------------------------------------------------------
def co_purchases(*, item: Item, limit: int = 50) -> list[tuple[int, int]]:
    """(item id, shoppers) bought by the same shoppers as `item`, in other categories only (an
    item of the same category competes with it), most shoppers first."""
    purchases = events_counted().filter(kind=Event.Kind.PURCHASE, source__in=PURCHASE_SOURCES)
    buyers = purchases.filter(item=item)
    users = buyers.exclude(user=None).values("user_id")
    visitors = buyers.filter(user=None).exclude(visitor_id="").values("visitor_id")
    rows = (
        purchases.filter(item__active=True)
        .exclude(item=item)
        .exclude(item__category=item.category)
        .filter(user_id__in=users)
        .values_list("item_id", "user_id")
        .distinct()
    )
    anon = (
        purchases.filter(item__active=True, user=None)
        .exclude(item=item)
        .exclude(item__category=item.category)
        .filter(visitor_id__in=visitors)
        .values_list("item_id", "visitor_id")
        .distinct()
    )
    count: Counter[int] = Counter(i for i, _ in rows) + Counter(i for i, _ in anon)
    return count.most_common(limit)


def complementary_categories(*, category: str) -> list[str]:
    """Other categories that shoppers who bought from `category` also bought from, most shoppers
    first (the shop's own baskets say what goes with what)."""
    purchases = events_counted().filter(kind=Event.Kind.PURCHASE, source__in=PURCHASE_SOURCES)
    buyers = purchases.filter(item__category=category)
    count: Counter[str] = Counter()
    for who, values in (
        ("user_id", buyers.exclude(user=None).values("user_id")),
        ("visitor_id", buyers.filter(user=None).exclude(visitor_id="").values("visitor_id")),
    ):
        base = purchases.exclude(item__category=category).filter(**{f"{who}__in": values})
        if who == "visitor_id":
            base = base.filter(user=None)
        for cat, _ in base.values_list("item__category", who).distinct():
            count[cat] += 1
    return [cat for cat, _ in count.most_common()]
