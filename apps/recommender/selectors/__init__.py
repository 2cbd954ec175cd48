"""Reads of the recommender, one module per sub-domain.

Sub-modules import one way:
    _common -> catalog, shoppers, experiments -> serving -> rails -> recommendations
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
    home_rails,
    item_rails,
    recommendations_get,
)
from .serving import (
    RAILS,
    FilterError,
    Filters,
    Placements,
    filters_parse,
    placements_get,
    profile_get,
    suppressed_ids,
)
from .shoppers import HISTORY_LIMIT, history_get, purchased_ids

__all__ = [
    "CACHE_SECONDS",
    "HISTORY_LIMIT",
    "PURCHASE_SOURCES",
    "RAILS",
    "SNAPSHOT_SECONDS",
    "Assignment",
    "ContextError",
    "FilterError",
    "Filters",
    "Placements",
    "RecommendationList",
    "RecommendedItem",
    "VariantReport",
    "catalog_counts",
    "catalog_snapshot",
    "categories",
    "events_counted",
    "experiment_report",
    "filters_parse",
    "history_get",
    "home_rails",
    "item_list",
    "item_rails",
    "model_current",
    "placements_get",
    "profile_get",
    "purchased_ids",
    "recommendations_get",
    "settings_get",
    "suppressed_ids",
    "trending_scores",
    "variant_assign",
    "variants_of",
    "wilson",
]
