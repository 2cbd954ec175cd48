"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A web process's model threads take turns with its request threads: torch's OpenMP threads
# must sleep between calls instead of spinning (read when torch loads, so set before). One
# question cost 144 ms of server CPU with spinning, 93 ms without (docs/serving.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
django.setup(set_prefix=False)  # what get_asgi_application() does before building its handler

from django.conf import settings  # noqa: E402

from config.model_threads import model_threads_apply, web_model_threads  # noqa: E402

# One thread per model call unless this process also trains (config/model_threads.py).
model_threads_apply(web_model_threads(settings))

from config.handlers import SyncChainASGIHandler  # noqa: E402

# Django's handler with the middleware chain entered once per request (config/handlers.py).
django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.accounts.websocket_auth import TokenAuthMiddleware  # noqa: E402
from config.celery import embedded_worker_start  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

embedded_worker_start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
