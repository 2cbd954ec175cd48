"""Reads of the recommender, one module per sub-domain.

Sub-modules import one way:
    _common -> catalog, shoppers, experiments -> recommendations
"""

from ._common import PURCHASE_SOURCES, events_counted, settings_get
from .catalog import (
    SNAPSHOT_SECONDS,
    catalog_counts,
    catalog_snapshot,
    categories,
    item_list,
    model_current,
    trending_scores,
)
from .experiments import (
    Assignment,
    VariantReport,
    experiment_report,
    variant_assign,
    variants_of,
    wilson,
)
from .recommendations import (
    CACHE_SECONDS,
    ContextError,
    RecommendationList,
    RecommendedItem,
    recommendations_get,
)
from .shoppers import HISTORY_LIMIT, history_get, purchased_ids

__all__ = [
    "CACHE_SECONDS",
    "HISTORY_LIMIT",
    "PURCHASE_SOURCES",
    "SNAPSHOT_SECONDS",
    "Assignment",
    "ContextError",
    "RecommendationList",
    "RecommendedItem",
    "VariantReport",
    "catalog_counts",
    "catalog_snapshot",
    "categories",
    "events_counted",
    "experiment_report",
    "history_get",
    "item_list",
    "model_current",
    "purchased_ids",
    "recommendations_get",
    "settings_get",
    "trending_scores",
    "variant_assign",
    "variants_of",
    "wilson",
]
