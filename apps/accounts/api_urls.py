from django.urls import path

from .api import MeView
from .token_api import TokenObtainView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("token/", TokenObtainView.as_view(), name="api-token"),
]
