"""Websocket routes of every app, gathered in one list."""

from apps.mlops.routing import websocket_urlpatterns as mlops_ws
from apps.sentiment.routing import websocket_urlpatterns as sentiment_ws
from apps.support.routing import websocket_urlpatterns as support_ws

websocket_urlpatterns = [*support_ws, *mlops_ws, *sentiment_ws]
