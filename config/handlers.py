"""The ASGI handler behind daphne: Django's, with the middleware chain run in one thread hop.

Django's own ASGI handler builds an async middleware chain. Most middleware here (Django's
MiddlewareMixin classes, whitenoise) is synchronous, so every request crossed between the event
loop and a worker thread for each middleware's request and response hooks and again for the
view: about 20 crossings per request, a measurable share of a chat question's CPU time under
load (docs/serving.md, "What one question costs"). Every HTTP view of the suite is synchronous
(websockets go through Channels, not through this handler), so the chain is built the way WSGI
builds it and entered once per request: one crossing in, one out.

An async view would still work: Django runs it with async_to_sync from the synchronous chain.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    """ASGIHandler whose middleware chain and views run synchronously in one worker thread."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        # thread_sensitive: the per-request ThreadSensitiveContext gives each request its own
        # thread, as the async chain did; database connections stay per request.
        # getattr/setattr: the stubs leave the attribute's type undetermined.
        chain: Any = getattr(self, "_middleware_chain")  # noqa: B009
        setattr(self, "_middleware_chain", sync_to_async(chain, thread_sensitive=True))
