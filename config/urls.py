from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    path("accounts/", include("apps.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/accounts/", include("apps.accounts.api_urls")),
    path("api/mlops/", include("apps.mlops.api_urls")),
    path("mlops/", include("apps.mlops.urls")),
    path("support/", include("apps.support.urls")),
    path("api/support/", include("apps.support.api_urls")),
    path("sentiment/", include("apps.sentiment.urls")),
    path("api/sentiment/", include("apps.sentiment.api_urls")),
    path("shop/", include("apps.recommender.urls")),
    path("api/", include("apps.recommender.api_urls")),
    path("", include("django_prometheus.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
