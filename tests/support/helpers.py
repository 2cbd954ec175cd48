"""Plain helpers shared by the support tests: API clients, a colleague agent, a conversation
where the customer has written."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from apps.support import services
from apps.support.models import Conversation


def api_client(user: Any = None) -> APIClient:
    """An API client that answers server errors with a response, signed in as `user` if given."""
    client = APIClient(raise_request_exception=False)
    if user is not None:
        client.force_authenticate(user)
    return client


def support_agent_create(username: str = "sam", **extra: Any) -> Any:
    """A colleague of the `agent` fixture: another support agent (`is_staff=True`: a supervisor)."""
    from apps.accounts.services import user_create

    return user_create(
        username=username, password=f"{username}-pass-1234", roles=["support_agent"], **extra
    )


def conversation_asked(kb: Any, text: str) -> Conversation:
    """A conversation where the customer has written `text` (no bot answer yet)."""
    conversation = services.conversation_start(kb_id=kb.pk)
    services.customer_message_post(conversation_id=conversation.pk, text=text)
    return conversation
