"""Writes of the recommender: catalog, events, visitors, settings, experiments, training."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import Event, Experiment, Item, RecommenderSettings, Variant, Visitor

INDEX_NAME = "recommender-items"
MODEL_NAME = "recommender-ranker"
CATALOG_VERSION_KEY = "recommender:catalog-version"
ITEM_FIELDS = (
    "sku",
    "title",
    "description",
    "tags",
    "category",
    "price",
    "stock",
    "image_url",
    "active",
    "boost",
)
# Blank cells of these columns mean "no value given" (an update keeps what is stored).
KEEP_WHEN_BLANK = ("stock", "active", "boost", "price")
# Clock skew tolerated on a trusted sender's own event times.
FUTURE_SKEW = timedelta(minutes=5)
# What the columns hold: price is numeric(10, 2); stock and variant weights are 32-bit integers.
PRICE_LIMIT = Decimal("100000000")
INT32_MAX = 2_147_483_647
_ID_RE = re.compile(r"[0-9]{1,18}")


def id_parse(value: Any) -> int | None:
    """A database id from a client value: ASCII digits that fit a 64-bit key, else None."""
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    return int(text) if _ID_RE.fullmatch(text) else None


# -- cache generations -----------------------------------------------------------------------------
def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, None)


def catalog_changed() -> None:
    """Every cached recommendation list and catalog snapshot becomes stale."""
    _bump(CATALOG_VERSION_KEY)


def shopper_changed(*, shopper_key: str) -> None:
    _bump(f"recommender:gen:{shopper_key}")


# -- catalog ---------------------------------------------------------------------------------------
class ItemRowError(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field  # the item field at fault, where one is (the admin shows it there)


def item_clean(row: dict[str, Any]) -> dict[str, Any]:
    """Validate one imported or posted item; raises ItemRowError with a readable message."""
    for name in ITEM_FIELDS:
        value = row.get(name)
        texts = value if isinstance(value, list) else [value]
        # PostgreSQL refuses NUL in text: one such cell would fail the whole import.
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ItemRowError(f"{name} contains a NUL character", field=name)
    data: dict[str, Any] = {}
    sku = str(row.get("sku") or "").strip()
    title = str(row.get("title") or "").strip()
    if not sku:
        raise ItemRowError("sku is required", field="sku")
    if len(sku) > 64:
        raise ItemRowError("sku is longer than 64 characters", field="sku")
    if not title:
        raise ItemRowError("title is required", field="title")
    data["sku"], data["title"] = sku, title[:200]
    data["description"] = str(row.get("description") or "")
    category = str(row.get("category") or "").strip()
    if not category:
        raise ItemRowError("category is required", field="category")
    data["category"] = category[:80]
    tags = row.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace(";", ",").split(",") if t.strip()]
    if not isinstance(tags, list):
        raise ItemRowError("tags must be a list or a comma-separated string", field="tags")
    data["tags"] = [str(t) for t in tags]
    try:
        price = Decimal(str(row.get("price", "")).strip())
    except InvalidOperation:
        raise ItemRowError(f"price {row.get('price')!r} is not a number", field="price") from None
    # NaN first: comparing a NaN Decimal raises instead of answering.
    if not price.is_finite() or price < 0 or price >= PRICE_LIMIT:
        raise ItemRowError("price must be a number from 0 to 99999999.99", field="price")
    data["price"] = price.quantize(Decimal("0.01"))
    try:
        stock = int(str(row.get("stock", 0) or 0).strip())
    except ValueError:
        raise ItemRowError(
            f"stock {row.get('stock')!r} is not a whole number", field="stock"
        ) from None
    if not 0 <= stock <= INT32_MAX:
        raise ItemRowError(f"stock must be a whole number from 0 to {INT32_MAX}", field="stock")
    data["stock"] = stock
    data["image_url"] = str(row.get("image_url") or "")[:500]
    active = row.get("active", True)
    if active is None or (isinstance(active, str) and not active.strip()):
        active = True  # a blank cell is no answer, not "inactive"
    elif isinstance(active, str):
        active = active.strip().lower() not in ("0", "false", "no", "n", "off")
    data["active"] = bool(active)
    try:
        boost = float(row.get("boost") or 0.0)
    except (TypeError, ValueError):
        raise ItemRowError(f"boost {row.get('boost')!r} is not a number", field="boost") from None
    # A NaN or infinite boost would sink every list it is in and break the JSON of the API.
    if not math.isfinite(boost):
        raise ItemRowError("boost must be a finite number", field="boost")
    data["boost"] = boost
    return data


def _items_changed(item_ids: list[int]) -> None:
    from .tasks import items_embed_task

    catalog_changed()
    if item_ids:
        transaction.on_commit(lambda: items_embed_task.delay(item_ids))


@transaction.atomic
def item_save(*, data: dict[str, Any], item_id: int | None = None) -> Item:
    """Create (or update by id or sku) one item; its text is re-embedded after commit."""
    clean = item_clean(data)
    if item_id is not None:
        item = Item.objects.select_for_update().get(pk=item_id)
        if Item.objects.filter(sku=clean["sku"]).exclude(pk=item_id).exists():
            raise ItemRowError(f"another item already has sku {clean['sku']}", field="sku")
        for key, value in clean.items():
            setattr(item, key, value)
        item.save()
    else:
        item, _ = Item.objects.update_or_create(sku=clean["sku"], defaults=clean)
    _items_changed([item.pk])
    return item


@transaction.atomic
def item_deactivate(*, item_id: int) -> None:
    Item.objects.filter(pk=item_id).update(active=False)
    _items_changed([item_id])


def items_forget(*, item_ids: list[int]) -> None:
    """After items were deleted outright (the admin): they leave the text index and no cached
    list keeps showing them."""
    _items_changed(item_ids)


def items_embed(*, item_ids: list[int]) -> int:
    """Embed the items' text into the shared index; inactive or deleted items leave it."""
    from apps.mlops.vectors import named_index, texts_embed

    items = list(Item.objects.filter(pk__in=item_ids, active=True))
    index = named_index(INDEX_NAME)
    gone = sorted(set(item_ids) - {i.pk for i in items})
    if gone:
        index.remove(gone)
    if items:
        index.upsert([i.pk for i in items], texts_embed([i.text for i in items]))
    catalog_changed()
    return len(items)


def index_rebuild() -> int:
    from apps.mlops.vectors import named_index, texts_embed

    items = list(Item.objects.filter(active=True).order_by("pk"))
    vectors = texts_embed([i.text for i in items]) if items else None
    named_index(INDEX_NAME).replace_all(
        [i.pk for i in items], vectors if vectors is not None else []
    )
    catalog_changed()
    return len(items)


# -- shoppers and events ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Shopper:
    """Who a request is about: a signed-in account or an anonymous visitor id."""

    user_id: int | None = None
    visitor_id: str = ""

    @property
    def key(self) -> str:
        return f"u{self.user_id}" if self.user_id else f"v{self.visitor_id}"


def visitor_id_new() -> str:
    return uuid.uuid4().hex


@transaction.atomic
def visitor_merge(*, visitor_id: str, user_id: int) -> int:
    """Join an anonymous visitor's history to their account (at sign-in); returns events moved."""
    if not visitor_id:
        return 0
    visitor, _ = Visitor.objects.get_or_create(visitor_id=visitor_id)
    Visitor.objects.filter(pk=visitor.pk).update(user_id=user_id, merged_at=timezone.now())
    moved = Event.objects.filter(visitor_id=visitor_id, user__isnull=True).update(user_id=user_id)
    shopper_changed(shopper_key=Shopper(user_id=user_id).key)
    shopper_changed(shopper_key=Shopper(visitor_id=visitor_id).key)
    return moved


def visitor_link(*, visitor_id: str, user_id: int) -> None:
    """Make sure a signed-in shopper's browser id speaks for their account: a visitor id
    first seen after sign-in (or last linked to someone else) gets the account too, so the
    tracker's views and clicks join the account's history."""
    if visitor_id and not Visitor.objects.filter(visitor_id=visitor_id, user_id=user_id).exists():
        visitor_merge(visitor_id=visitor_id, user_id=user_id)


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def _no_nul(value: Any) -> str:
    # PostgreSQL refuses NUL in text; one in a free-text field would fail the whole batch.
    return str(value or "").replace("\x00", "")


def _flag(value: Any) -> bool:
    """A JSON or form boolean: the string "false" is false (bool("false") is not)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value is True or (isinstance(value, int) and value == 1)


TRACKER_PURCHASE_REFUSED = (
    "purchases are recorded by the checkout, not by tracker events; send the other kinds only"
)


def events_record(
    *,
    shopper: Shopper,
    events: list[dict[str, Any]],
    trusted: bool = False,
    source: str = Event.Source.TRACKER,
) -> RecordResult:
    """Store a batch of events. An event id seen before is ignored, so clients may resend.

    Each event: event_id, kind, item (id or sku), optional rating, text, context, experiment,
    variant, from_recommendation, created (ISO time; `trusted` callers only, else now).
    `source` says who recorded them; a purchase from the tracker is refused (an error for that
    event), since purchases feed training and A/B conversion and only the checkout knows them.
    """
    now = timezone.now()
    user_id = shopper.user_id
    if user_id is None and shopper.visitor_id:
        user_id = (
            Visitor.objects.filter(visitor_id=shopper.visitor_id)
            .values_list("user_id", flat=True)
            .first()
        )
    errors: list[dict[str, Any]] = []
    rows: list[Event] = []
    ids_in_batch: set[str] = set()
    item_refs = {str(e.get("item", "")) for e in events if isinstance(e, dict)}
    numeric = [pk for pk in (id_parse(r) for r in item_refs) if pk is not None]
    by_id = {str(pk): pk for pk in Item.objects.filter(pk__in=numeric).values_list("pk", flat=True)}
    by_sku = dict(Item.objects.filter(sku__in=item_refs).values_list("sku", "pk"))
    experiment_ids = [id_parse(e.get("experiment")) for e in events if isinstance(e, dict)]
    # Only a running experiment collects events: a draft has not split anyone yet, and
    # events sent after the stop would change a comparison that is over.
    experiments: dict[int, set[str]] = {}
    if any(pk is not None for pk in experiment_ids):
        from .selectors import variant_assign

        # A shopper's variant is a hash of who they are; an event claiming another variant
        # (a tampered or replayed tag) would skew the comparison, so it is stored untagged.
        # The visitor's own key counts too: a shopper who signed in since keeps the variant
        # their earlier impressions were shown under.
        keys = {shopper.key, Shopper(visitor_id=shopper.visitor_id).key}
        for key in sorted(keys):
            assigned = variant_assign(shopper_key=key)
            if assigned is not None:
                experiments.setdefault(assigned.experiment_id, set()).add(assigned.name)
    duplicates = 0
    for position, raw in enumerate(events):
        if not isinstance(raw, dict):
            errors.append({"index": position, "error": "an event must be an object"})
            continue
        event_id = str(raw.get("event_id") or "").strip()
        kind = raw.get("kind")
        ref = str(raw.get("item", ""))
        item_pk = by_id.get(ref) or by_sku.get(ref)
        problem = None
        if not event_id or len(event_id) > 80 or "\x00" in event_id:
            problem = "event_id is required (at most 80 characters, no NUL)"
        elif kind not in Event.Kind.values:
            problem = f"unknown kind {kind!r}; one of {', '.join(Event.Kind.values)}"
        elif kind == Event.Kind.PURCHASE and source == Event.Source.TRACKER:
            problem = TRACKER_PURCHASE_REFUSED
        elif item_pk is None:
            problem = f"unknown item {ref!r}"
        if problem:
            errors.append({"index": position, "event_id": event_id, "error": problem})
            continue
        assert kind is not None and item_pk is not None  # both checked just above
        if event_id in ids_in_batch:
            duplicates += 1
            continue
        ids_in_batch.add(event_id)
        rating = raw.get("rating")
        if rating is not None:
            try:
                rating = float(rating)
            except (TypeError, ValueError):
                errors.append({"index": position, "event_id": event_id, "error": "bad rating"})
                continue
            if not 0 <= rating <= 5:
                errors.append(
                    {
                        "index": position,
                        "event_id": event_id,
                        "error": "rating must be between 0 and 5",
                    }
                )
                continue
        created = now
        if trusted and raw.get("created"):
            try:
                parsed = parse_datetime(str(raw["created"]))
            except ValueError:
                parsed = None
            if not isinstance(parsed, datetime):
                errors.append(
                    {
                        "index": position,
                        "event_id": event_id,
                        "error": "created must be an ISO 8601 time",
                    }
                )
                continue
            created = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
            # A future time would outweigh every real event (decay grows past 1) for ever.
            if created > now + FUTURE_SKEW:
                errors.append(
                    {"index": position, "event_id": event_id, "error": "created is in the future"}
                )
                continue
        experiment_id = id_parse(raw.get("experiment"))
        variant = str(raw.get("variant") or "")
        if experiment_id not in experiments or variant not in experiments.get(experiment_id, ()):
            experiment_id, variant = None, ""
        rows.append(
            Event(
                event_id=event_id,
                kind=kind,
                source=source,
                item_id=item_pk,
                user_id=user_id,
                visitor_id=shopper.visitor_id[:64],
                rating=rating,
                text=_no_nul(raw.get("text"))[:5000],
                context=_no_nul(raw.get("context"))[:80],
                experiment_id=experiment_id,
                variant=variant[:40],
                from_recommendation=_flag(raw.get("from_recommendation")),
                created=created,
            )
        )
    existing = set(
        Event.objects.filter(event_id__in=[r.event_id for r in rows]).values_list(
            "event_id", flat=True
        )
    )
    fresh = [r for r in rows if r.event_id not in existing]
    duplicates += len(rows) - len(fresh)
    # ignore_conflicts covers a concurrent resend of the same ids between the check and insert.
    Event.objects.bulk_create(fresh, ignore_conflicts=True)
    if any(r.kind != Event.Kind.IMPRESSION for r in fresh):
        shopper_changed(shopper_key=shopper.key)
        if user_id:
            shopper_changed(shopper_key=Shopper(user_id=user_id).key)
    return RecordResult(accepted=len(fresh), duplicates=duplicates, errors=errors)


def event_record(*, shopper: Shopper, kind: str, item_id: int, **extra: Any) -> RecordResult:
    """One event the storefront server records itself (add to cart, checkout purchase, review)
    with a fresh id."""
    payload = {"event_id": uuid.uuid4().hex, "kind": kind, "item": item_id, **extra}
    if kind == Event.Kind.PURCHASE and "experiment" not in extra:
        from .selectors import variant_assign

        assigned = variant_assign(shopper_key=shopper.key)
        if assigned:
            payload["experiment"], payload["variant"] = assigned.experiment_id, assigned.name
    return events_record(shopper=shopper, events=[payload], source=Event.Source.STOREFRONT)


# -- settings --------------------------------------------------------------------------------------
SETTINGS_FIELDS = (
    "feedback_weights",
    "exclude_purchased",
    "diversity",
    "category_cap",
    "trending_half_life_days",
    "default_strategy",
)
WEIGHT_MAX = 100.0
CATEGORY_CAP_MAX = 50
# Beyond a year "trending" is all-time popularity; far beyond, the window overflows a date.
HALF_LIFE_DAYS = (0.01, 365.0)


class SettingsError(ValueError):
    """Settings that cannot be saved; `errors` says what is wrong with each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _in_range(value: Any, low: float, high: float) -> bool:
    number = _finite(value)
    return number is not None and low <= number <= high


def settings_problems(*, values: dict[str, Any]) -> dict[str, str]:
    """What is wrong with each of the given settings (empty when nothing is): the one check the
    API, the shop management page and the admin share."""
    problems: dict[str, str] = {}
    if "feedback_weights" in values:
        weights = values["feedback_weights"]
        kinds = ", ".join(Event.Kind.values)
        if not isinstance(weights, dict):
            problems["feedback_weights"] = f"map event kinds ({kinds}) to weights"
        elif unknown := sorted(str(k) for k in weights if k not in Event.Kind.values):
            problems["feedback_weights"] = f"unknown event kind {unknown[0]!r}; one of {kinds}"
        elif bad := [k for k, v in weights.items() if not _in_range(v, 0, WEIGHT_MAX)]:
            problems["feedback_weights"] = (
                f"the weight of {bad[0]} must be a number from 0 to {WEIGHT_MAX:g}"
            )
    if "exclude_purchased" in values and not isinstance(values["exclude_purchased"], bool):
        problems["exclude_purchased"] = "must be true or false"
    if "diversity" in values and not _in_range(values["diversity"], 0, 1):
        problems["diversity"] = "must be a number from 0 to 1"
    if "category_cap" in values:
        cap = values["category_cap"]
        if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= CATEGORY_CAP_MAX:
            problems["category_cap"] = (
                f"must be a whole number from 0 (no cap) to {CATEGORY_CAP_MAX}"
            )
    if "trending_half_life_days" in values and not _in_range(
        values["trending_half_life_days"], *HALF_LIFE_DAYS
    ):
        low, high = HALF_LIFE_DAYS
        problems["trending_half_life_days"] = f"must be a number of days from {low:g} to {high:g}"
    if "default_strategy" in values and values["default_strategy"] not in dict(Variant.STRATEGIES):
        names = ", ".join(dict(Variant.STRATEGIES))
        problems["default_strategy"] = (
            f"unknown strategy {values['default_strategy']!r}; one of {names}"
        )
    return problems


@transaction.atomic
def settings_update(*, values: dict[str, Any]) -> RecommenderSettings:
    """Change some settings; raises SettingsError (nothing saved) if any value is invalid.
    Every cached list is refreshed, since they all depend on the settings."""
    from .selectors import settings_get

    current = settings_get()
    given = {name: values[name] for name in SETTINGS_FIELDS if name in values}
    # The stored values are checked too: a row saved before these checks must not slip through.
    merged = {name: getattr(current, name) for name in SETTINGS_FIELDS} | given
    problems = settings_problems(values=merged)
    if problems:
        raise SettingsError(problems)
    for name, value in given.items():
        if name == "feedback_weights":
            value = {kind: float(weight) for kind, weight in value.items()}
        setattr(current, name, value)
    current.save()
    catalog_changed()
    return current


# -- experiments -----------------------------------------------------------------------------------
def variants_clean(*, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check an experiment's variants (name, strategy, diversity, weight); raises ValueError.
    Shared by the page, the API and the admin, and checked again at start."""
    if not 2 <= len(variants) <= 4:
        raise ValueError("an experiment has two to four variants")
    names = [str(v.get("name") or "").strip() for v in variants]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError("variant names must be present and distinct")
    if any(len(n) > 40 or "\x00" in n for n in names):
        raise ValueError("a variant name has at most 40 characters (and no NUL)")
    clean = []
    for name, v in zip(names, variants, strict=True):
        strategy = v.get("strategy") or "ranker"
        if strategy not in dict(Variant.STRATEGIES):
            raise ValueError(f"unknown strategy {strategy!r}")
        raw_weight = v.get("weight")
        try:
            weight = int(1 if raw_weight is None else raw_weight)
        except (TypeError, ValueError):
            raise ValueError(f"variant {name}: the weight must be a whole number") from None
        if weight < 1:
            raise ValueError(f"variant {name}: the weight must be a whole number of at least 1")
        if weight > INT32_MAX:
            raise ValueError(f"variant {name}: the weight must be at most {INT32_MAX}")
        diversity = v.get("diversity")
        if diversity in (None, ""):
            diversity = None
        else:
            try:
                diversity = float(diversity)
            except (TypeError, ValueError):
                raise ValueError(f"variant {name}: diversity must be a number") from None
            # The shop setting's range: a variant outside it could never be shipped.
            if not 0 <= diversity <= 1:
                raise ValueError(f"variant {name}: diversity must be between 0 and 1")
        clean.append({"name": name, "strategy": strategy, "diversity": diversity, "weight": weight})
    return clean


@transaction.atomic
def experiment_create(
    *, name: str, description: str = "", variants: list[dict[str, Any]]
) -> Experiment:
    if not name.strip():
        raise ValueError("an experiment needs a name")
    if len(name.strip()) > 120 or "\x00" in name + description:
        raise ValueError("an experiment's name has at most 120 characters (and no NUL)")
    if Experiment.objects.filter(name=name.strip()).exists():
        raise ValueError(f"an experiment named {name.strip()!r} exists")
    clean = variants_clean(variants=variants)
    experiment = Experiment.objects.create(name=name.strip(), description=description)
    for variant in clean:
        Variant.objects.create(experiment=experiment, **variant)
    return experiment


@transaction.atomic
def experiment_start(*, experiment_id: int) -> Experiment:
    """Start a draft; only one experiment runs at a time, so its split is clean."""
    experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
    if experiment is None or experiment.status != Experiment.Status.DRAFT:
        raise ValueError("only a draft experiment can be started")
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).exclude(pk=experiment_id)
    if running.exists():
        raise ValueError(f"stop {running.first()} first: one experiment runs at a time")
    # A draft edited since it was created must still be a fair split when it goes live.
    stored = experiment.variants.values("name", "strategy", "diversity", "weight")
    variants_clean(variants=[dict(v) for v in stored])
    Experiment.objects.filter(pk=experiment_id, status=Experiment.Status.DRAFT).update(
        status=Experiment.Status.RUNNING, started_at=timezone.now()
    )
    catalog_changed()
    return Experiment.objects.get(pk=experiment_id)


@transaction.atomic
def experiment_stop(*, experiment_id: int) -> Experiment:
    claimed = Experiment.objects.filter(pk=experiment_id, status=Experiment.Status.RUNNING).update(
        status=Experiment.Status.STOPPED, ended_at=timezone.now()
    )
    if not claimed:
        raise ValueError("only a running experiment can be stopped")
    catalog_changed()
    return Experiment.objects.get(pk=experiment_id)


@transaction.atomic
def experiment_ship(*, experiment_id: int, variant: str) -> Experiment:
    """End the experiment and make the winner's strategy the shop's default for everyone."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    if experiment.status not in (Experiment.Status.RUNNING, Experiment.Status.STOPPED):
        raise ValueError("only a running or stopped experiment can ship a variant")
    chosen = experiment.variants.filter(name=variant).first() if "\x00" not in variant else None
    if chosen is None:
        raise ValueError(f"{experiment} has no variant {variant!r}")
    experiment.status = Experiment.Status.SHIPPED
    experiment.shipped_variant = chosen.name
    experiment.ended_at = experiment.ended_at or timezone.now()
    experiment.save(update_fields=["status", "shipped_variant", "ended_at"])
    values: dict[str, Any] = {"default_strategy": chosen.strategy}
    if chosen.diversity is not None:
        values["diversity"] = chosen.diversity
    settings_update(values=values)
    return experiment


# -- training --------------------------------------------------------------------------------------
def retrain_start(*, user: Any = None) -> Any:
    """Queue a ranker training run (the gate promotes it only if NDCG@10 does not drop)."""
    from apps.mlops.services import training_run_start

    return training_run_start(model_name=MODEL_NAME, params={}, user=user)
