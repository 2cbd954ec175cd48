from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=False)
router.register("items", api.ItemViewSet, basename="recommender-item")
router.register("experiments", api.ExperimentViewSet, basename="recommender-experiment")

urlpatterns = [
    path("recommendations", api.RecommendationsView.as_view(), name="recommender-recommendations"),
    path("events/batch", api.EventBatchView.as_view(), name="recommender-events-batch"),
    path("recommender/settings", api.SettingsView.as_view(), name="recommender-settings"),
    path("recommender/retrain", api.RetrainView.as_view(), name="recommender-retrain"),
    path("recommender/pins", api.PinsView.as_view(), name="recommender-pins"),
    path(
        "recommender/pins/<int:placement_id>",
        api.PlacementDetailView.as_view(kind="pin"),
        name="recommender-pin",
    ),
    path("recommender/boosts", api.BoostsView.as_view(), name="recommender-boosts"),
    path(
        "recommender/boosts/<int:placement_id>",
        api.PlacementDetailView.as_view(kind="boost"),
        name="recommender-boost",
    ),
    path("", include(router.urls)),
]
