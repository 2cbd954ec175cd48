"""Websocket routes of every app, gathered in one list, and a last route for any other path."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from apps.mlops.routing import websocket_urlpatterns as mlops_ws
from apps.sentiment.routing import websocket_urlpatterns as sentiment_ws
from apps.support.routing import websocket_urlpatterns as support_ws

NO_SUCH_PATH = 4404


class UnknownPathConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels: no stubs
    """A path no app serves: refused at the handshake. Without it URLRouter raised ValueError,
    which the server logged as a 500 with a traceback."""

    async def connect(self) -> None:
        await self.close(code=NO_SUCH_PATH)


websocket_urlpatterns = [
    *support_ws,
    *mlops_ws,
    *sentiment_ws,
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
