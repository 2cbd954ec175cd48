from django.contrib import admin
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView

from apps.accounts import views as account_views
from apps.accounts.ops_access import DocsView, SchemaView, ops_access_required

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    path("accounts/", include("apps.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/accounts/", include("apps.accounts.api_urls")),
    path("api/mlops/", include("apps.mlops.api_urls")),
    path("mlops/", include("apps.mlops.urls")),
    path("support/", include("apps.support.urls")),
    path("api/support/", include("apps.support.api_urls")),
    path("sentiment/", include("apps.sentiment.urls")),
    path("api/sentiment/", include("apps.sentiment.api_urls")),
    path("shop/", include("apps.recommender.urls")),
    path("api/", include("apps.recommender.api_urls")),
    # django_prometheus.urls' one view, behind the operations-endpoint check.
    path("metrics", ops_access_required(ExportToDjangoView), name="prometheus-django-metrics"),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
