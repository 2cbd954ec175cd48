from django.urls import path

from .consumers import AgentConsoleConsumer, CustomerChatConsumer

websocket_urlpatterns = [
    path("ws/support/chat/<uuid:token>/", CustomerChatConsumer.as_asgi()),
    path("ws/support/console/", AgentConsoleConsumer.as_asgi()),
]
