"""The dashboard's live feed socket. Pages fall back to polling `/sentiment/feed/` (htmx, every
5 s) while it is down, so the dashboard still works behind a proxy without websockets."""

from django.urls import path

from .consumers import FeedConsumer

websocket_urlpatterns = [
    path("ws/sentiment/feed/", FeedConsumer.as_asgi()),
]
