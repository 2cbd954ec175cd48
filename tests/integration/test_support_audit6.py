"""Real browser, real ASGI server: a message the chat refuses is marked as not sent in the
widget, with the reason, and its text comes back to the box instead of vanishing."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.support import services
services.knowledge_base_ensure(name="Help centre")
print("ready")
"""

# The customer has written as many messages this minute as the chat takes.
FILL = """
from apps.support import services
from apps.support.models import Conversation
conversation = Conversation.objects.get(messages__text="My first question, lynx?")
for i in range(services.CUSTOMER_MESSAGES_PER_MINUTE - 1):
    services.customer_message_post(conversation_id=conversation.pk, text=f"lynx filler {i}")
print("filled", conversation.pk)
"""

STORED = """
from apps.support.models import Message
print("stored", Message.objects.filter(text="One more, lynx?").count())
"""

CLOSE_MINE = """
from apps.support import services
from apps.support.models import Conversation
for pk in Conversation.objects.filter(messages__text__contains="lynx").exclude(
    status="closed"
).values_list("pk", flat=True).distinct():
    services.conversation_close(conversation_id=pk)
print("tidy")
"""


@pytest.fixture
def tidy(running):
    """The database is shared by the session: later tests must not find our chats waiting."""
    yield running
    done = running.manage("shell", "-c", CLOSE_MINE, timeout=300)
    assert "tidy" in done.stdout, done.stdout + done.stderr


def test_a_refused_message_is_marked_not_sent_and_its_text_comes_back(tidy, chromium):
    running = tidy
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "ready" in setup.stdout, setup.stdout + setup.stderr
    base = running.start_web()
    page = chromium.new_page()
    page.goto(f"{base}/support/chat/")
    widget = page.get_by_test_id("support-widget")
    box = widget.locator("textarea")
    box.fill("My first question, lynx?")
    box.press("Enter")
    widget.locator("li.ts-customer:not(.ts-pending)", has_text="lynx").wait_for(timeout=30000)
    widget.locator("li.ts-bot").nth(1).wait_for(timeout=60000)
    filled = running.manage("shell", "-c", FILL, timeout=300)
    assert "filled" in filled.stdout, filled.stdout + filled.stderr

    box.fill("One more, lynx?")
    box.press("Enter")

    failed = widget.locator("li.ts-customer.ts-failed", has_text="One more, lynx?")
    failed.wait_for(timeout=30000)
    assert "Not sent" in failed.inner_text() and "too quickly" in failed.inner_text()
    assert box.input_value() == "One more, lynx?"
    assert widget.locator("li.ts-pending").count() == 0
    stored = running.manage("shell", "-c", STORED, timeout=300)
    assert "stored 0" in stored.stdout, stored.stdout + stored.stderr
    page.close()
