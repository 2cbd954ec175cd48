from django.urls import path

from . import corpus_views, views

app_name = "mlops"
urlpatterns = [
    path("", views.model_list, name="models"),
    path("corpora/", corpus_views.corpora_page, name="corpora"),
    path("corpora/<int:pk>/", corpus_views.corpus_page, name="corpus"),
    path("corpora/<int:pk>/delete/", corpus_views.corpus_delete, name="corpus-delete"),
    path("models/<str:name>/", views.model_detail, name="model"),
    path("models/<str:name>/v<int:version>/", views.version_detail, name="version"),
    path("models/<str:name>/v<int:version>/optimise/", views.optimise, name="optimise"),
    path("models/<str:name>/v<int:version>/serving-form/", views.serving_form, name="serving-form"),
    path("models/<str:name>/monitoring/", views.monitoring, name="monitoring"),
    path("models/<str:name>/runs/", views.run_start, name="run-start"),
    path("models/<str:name>/promote/", views.promote, name="promote"),
    path("models/<str:name>/rollback/", views.rollback, name="rollback"),
    path("models/<str:name>/policy/", views.policy, name="policy"),
    path("models/<str:name>/schedule/", views.schedule, name="schedule"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
]
