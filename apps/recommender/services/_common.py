"""What every services sub-module shares: names, column limits, client ids, cache generations."""

from __future__ import annotations

import re
from typing import Any

from django.core.cache import cache

from apps.mlops import runtime

from ..models import RecommenderSettings

INDEX_NAME = "recommender-items"
MODEL_NAME = "recommender-ranker"
CATALOG_VERSION_KEY = "recommender:catalog-version"
# What the columns hold: stock and variant weights are 32-bit integers.
INT32_MAX = 2_147_483_647
_ID_RE = re.compile(r"[0-9]{1,18}")


def catalog_embedding_model() -> str:
    """The embedding model of the item vectors: the shop settings' choice (MiniLM by default)."""
    found = (
        RecommenderSettings.objects.filter(pk=1).values_list("embedding_model", flat=True).first()
    )
    return found or "minilm"


def catalog_index(model: str | None = None) -> runtime.NamedIndex:
    """The item index of the embedding `model` (default: the catalog's current one). Each model
    has its own index file (`recommender-items`, `recommender-items--multilingual`), so vectors of
    different models and widths never meet."""
    name = model or catalog_embedding_model()
    return runtime.named_index(runtime.index_name(INDEX_NAME, name), runtime.EMBEDDING_DIMS[name])


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
