"""REST API: recommendations and events for storefront visitors, catalog and experiments for
merchandisers. One module per sub-domain; `api_urls` mounts the views re-exported here.

Modules import one way: _common -> catalog, recommendations, events, experiments, settings.
"""

from .catalog import ItemViewSet
from .events import EventBatchView
from .experiments import ExperimentViewSet
from .recommendations import RecommendationsView
from .settings import RetrainView, SettingsView

__all__ = [
    "EventBatchView",
    "ExperimentViewSet",
    "ItemViewSet",
    "RecommendationsView",
    "RetrainView",
    "SettingsView",
]
