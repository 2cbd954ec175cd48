"""The catalog's writes: item validation, saves, deactivation, and the text index behind them."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.db import transaction

from apps.mlops import runtime
from mlcore.language import language_detect

from ..models import Item
from ._common import INT32_MAX, catalog_changed, catalog_embedding_model, catalog_index

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
# What the price column holds: numeric(10, 2).
PRICE_LIMIT = Decimal("100000000")


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
    data["language"] = language_detect(f"{data['title']}. {data['description']}")
    return data


def items_changed(item_ids: list[int]) -> None:
    """Cached lists go stale and the items' text is re-embedded after commit."""
    # Cycle break: tasks imports services (its tasks call items_embed and retrain_start).
    from ..tasks import items_embed_task

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
    items_changed([item.pk])
    return item


@transaction.atomic
def item_deactivate(*, item_id: int) -> None:
    Item.objects.filter(pk=item_id).update(active=False)
    items_changed([item_id])


def items_forget(*, item_ids: list[int]) -> None:
    """After items were deleted outright (the admin): they leave the text index and no cached
    list keeps showing them."""
    items_changed(item_ids)


@transaction.atomic
def items_delete(*, item_ids: list[int]) -> None:
    """Delete items outright (the admin), with their events; they leave the index and caches."""
    Item.objects.filter(pk__in=item_ids).delete()
    items_forget(item_ids=item_ids)


def item_vectors(texts: list[str], model: str = "minilm") -> np.ndarray:
    """Vectors of item texts from the catalog's embedding `model`. For MiniLM (the default) that
    is the production item-text encoder: the recommender's adapted base when one is in
    production (apps/recommender/adaptation.py), else the shared MiniLM; the multilingual
    model has no adapted base."""
    base = runtime.adapted_base_path("recommender", "minilm") if model == "minilm" else None
    if base is None:
        return runtime.texts_embed(texts, model)
    return runtime.folder_texts_embed(texts, base)


def items_embed(*, item_ids: list[int]) -> int:
    """Embed the items' text into the index of the catalog's embedding model; inactive or
    deleted items leave it."""
    model = catalog_embedding_model()
    items = list(Item.objects.filter(pk__in=item_ids, active=True))
    index = catalog_index(model)
    gone = sorted(set(item_ids) - {i.pk for i in items})
    if gone:
        index.remove(gone)
    if items:
        index.upsert([i.pk for i in items], item_vectors([i.text for i in items], model))
    catalog_changed()
    return len(items)


def index_rebuild(*, batch: int = 256) -> int:
    """Embed every active item again with the catalog's embedding model, in batches, and swap the
    model's index for the result in one step (readers see the old index until then)."""
    model = catalog_embedding_model()
    ids: list[int] = []
    parts: list[Any] = []
    while rows := list(
        Item.objects.filter(active=True, pk__gt=ids[-1] if ids else 0).order_by("pk")[:batch]
    ):
        ids += [i.pk for i in rows]
        parts.append(item_vectors([i.text for i in rows], model))
    vectors: Any = np.concatenate(parts) if parts else []
    catalog_index(model).replace_all(ids, vectors)
    catalog_changed()
    return len(ids)
