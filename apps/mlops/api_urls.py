from django.urls import path

from . import api, corpus_api

urlpatterns = [
    path("models/", api.ModelListView.as_view(), name="mlops-api-models"),
    path("models/<str:name>/versions/", api.VersionListView.as_view(), name="mlops-api-versions"),
    path(
        "models/<str:name>/versions/<int:version>/",
        api.VersionDetailView.as_view(),
        name="mlops-api-version",
    ),
    path(
        "models/<str:name>/versions/<int:version>/optimise/",
        api.OptimiseView.as_view(),
        name="mlops-api-optimise",
    ),
    path(
        "models/<str:name>/versions/<int:version>/serving-form/",
        api.ServingFormView.as_view(),
        name="mlops-api-serving-form",
    ),
    path("models/<str:name>/promote/", api.PromoteView.as_view(), name="mlops-api-promote"),
    path("models/<str:name>/rollback/", api.RollbackView.as_view(), name="mlops-api-rollback"),
    path("models/<str:name>/policy/", api.PolicyView.as_view(), name="mlops-api-policy"),
    path("models/<str:name>/schedule/", api.ScheduleView.as_view(), name="mlops-api-schedule"),
    path(
        "models/<str:name>/monitoring/", api.MonitoringView.as_view(), name="mlops-api-monitoring"
    ),
    path("models/<str:name>/events/", api.EventListView.as_view(), name="mlops-api-events"),
    path("corpora/", corpus_api.CorpusListView.as_view(), name="mlops-api-corpora"),
    path("corpora/<int:pk>/", corpus_api.CorpusDetailView.as_view(), name="mlops-api-corpus"),
    path("runs/", api.RunListView.as_view(), name="mlops-api-runs"),
    path("runs/<int:run_id>/", api.RunDetailView.as_view(), name="mlops-api-run"),
    path("runs/<int:run_id>/cancel/", api.RunCancelView.as_view(), name="mlops-api-run-cancel"),
]
