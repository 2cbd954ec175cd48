from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from .api import MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("token/", obtain_auth_token, name="api-token"),
]
