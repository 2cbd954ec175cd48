"""No websocket routes: the dashboard's live feed polls with htmx (works behind any proxy)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
