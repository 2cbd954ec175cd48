"""REST API: recommendations and events for storefront visitors, catalog and experiments for
merchandisers. One module per sub-domain; `api_urls` mounts the views re-exported here.

Modules import one way: _common -> catalog, recommendations, events, experiments, settings,
placements.
"""

from .catalog import ItemViewSet
from .events import EventBatchView
from .experiments import ExperimentViewSet
from .placements import BoostsView, PinsView, PlacementDetailView
from .recommendations import RecommendationsView
from .settings import RetrainView, SettingsView

__all__ = [
    "BoostsView",
    "EventBatchView",
    "ExperimentViewSet",
    "ItemViewSet",
    "PinsView",
    "PlacementDetailView",
    "RecommendationsView",
    "RetrainView",
    "SettingsView",
]
