from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, api_ingest, import_views, training_api

router = DefaultRouter()
router.register("documents", api.DocumentViewSet, basename="sentiment-document")
router.register("alerts", api.AlertViewSet, basename="sentiment-alert")
router.register("rules", api.RuleViewSet, basename="sentiment-rule")
router.register("watchlist", api.EntityViewSet, basename="sentiment-entity")
router.register("sources", api.SourceViewSet, basename="sentiment-source")
router.register("training-sets", training_api.LabelledSetViewSet, basename="sentiment-training-set")

urlpatterns = [
    path("ingest/", api_ingest.IngestView.as_view(), name="sentiment-ingest"),
    path("upload/", api_ingest.UploadView.as_view(), name="sentiment-upload"),
    path(
        "import-jobs/<int:pk>/", import_views.ImportJobView.as_view(), name="sentiment-import-job"
    ),
    path("trends/", api.TrendView.as_view(), name="sentiment-trends"),
    path("", include(router.urls)),
]
