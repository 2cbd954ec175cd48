from django.urls import path

from . import import_views, training_views, views

app_name = "sentiment"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("feed/", views.feed, name="feed"),
    path("documents/<int:pk>/", views.document_detail, name="document"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/feed/", views.alert_feed, name="alert_feed"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/<str:action>/", views.alert_action, name="alert_action"),
    path(
        "alerts/<int:pk>/email/<str:action>/<str:token>/",
        views.alert_email_action,
        name="alert_email_action",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("watchlist/", views.watchlist, name="watchlist"),
    path("watchlist/<int:pk>/", views.watchlist, name="watchlist_edit"),
    path("rules/", views.rules, name="rules"),
    path("rules/<int:pk>/", views.rules, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:pk>/resubscribe/", views.rule_resubscribe, name="rule_resubscribe"),
    path("rules/resubscribe/", views.rule_resubscribe, name="rules_resubscribe"),
    path("sources/", views.sources, name="sources"),
    path("sources/<int:pk>/poll/", views.source_poll, name="source_poll"),
    path(
        "sources/<int:pk>/embedding-model/",
        views.source_embedding_model,
        name="source_embedding_model",
    ),
    path("upload/", views.upload, name="upload"),
    path("imports/<int:pk>/", import_views.import_job_page, name="import_job"),
    path("training/", training_views.training_data_page, name="training_data"),
    path("training/run/", training_views.training_run_start, name="training_run_start"),
    path(
        "training/sets/<int:pk>/delete/",
        training_views.labelled_set_delete,
        name="labelled_set_delete",
    ),
]
