"""Real browser: an agent signs in and picks a waiting conversation up in the console."""

from __future__ import annotations

import pytest

from tests.integration.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
user_create(username="agent", password="agent-pass-123", roles=["support_agent"])
conversation = services.conversation_start(kb_id=kb.pk, customer_name="Robin")
services.customer_message_post(conversation_id=conversation.pk, text="My card was swallowed")
services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
print("conversation", conversation.pk)
"""


def test_agent_takes_a_waiting_conversation_in_the_console(running, chromium):
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "conversation" in setup.stdout, setup.stdout + setup.stderr
    conversation_id = setup.stdout.split("conversation")[-1].strip()
    base = running.start_web()
    page = chromium.new_page()

    sign_in(page, base, "agent", "agent-pass-123", "/support/console/")
    item = page.locator(f'.queue section[data-status="waiting"] li[data-id="{conversation_id}"]')
    item.wait_for(timeout=30000)
    item.click()
    page.get_by_test_id("take-over").click()

    status = page.get_by_test_id("conv-status")
    status.filter(has_text="agent").wait_for(timeout=30000)
    assert (
        page.locator(f'.queue section[data-status="agent"] li[data-id="{conversation_id}"]').count()
        == 1
    )
    assert "My card was swallowed" in page.locator("#messages").inner_text()
    page.close()
