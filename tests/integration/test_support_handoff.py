"""Real browser, real ASGI server: asking for a person. A customer queued with no agent online
is told so and the next agent online gets them; a visit where the customer never wrote stays out
of the console until they do; "Talk to a human" always tells the customer something (queued, or
a person is already with them)."""

from __future__ import annotations

import pytest

from tests.integration.support import ACT, chat_asked, console_sign_in, shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.accounts.services import user_create
from apps.support import services
services.knowledge_base_ensure(name="Help centre")
user_create(username="rowan", password="rowan-pass-123", roles=["support_agent"])
print("ready")
"""

CONVERSATION_OF = """
from apps.support.models import Conversation
print("id", Conversation.objects.get(token="{token}").pk)
"""


def _conversation_id(running, page) -> str:
    token = page.evaluate("JSON.parse(localStorage.getItem('textsuite-support')).token")
    found = running.manage("shell", "-c", CONVERSATION_OF.format(token=token), timeout=300)
    assert "id" in found.stdout, found.stdout + found.stderr
    return found.stdout.split("id")[-1].strip()


def test_queued_customer_is_told_no_agent_is_online_and_idle_visits_wait_for_a_message(
    support_tidy, chromium
):
    running = support_tidy
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "ready" in setup.stdout, setup.stdout + setup.stderr
    base = running.start_web()

    # Nobody has the console open: asking for a human says so instead of waiting in silence.
    customer = chromium.new_context().new_page()
    customer.goto(f"{base}/support/chat/")
    widget = customer.get_by_test_id("support-widget")
    widget.locator("li.ts-bot").first.wait_for(timeout=30000)  # the greeting: connected
    widget.get_by_role("button", name="Talk to a human").click()
    widget.locator("li.ts-system", has_text="No agent is online right now").wait_for(timeout=30000)
    queued = _conversation_id(running, customer)

    # The first agent to come online finds that customer waiting, and assigned to them.
    agent = chromium.new_context().new_page()
    console_sign_in(agent, base, "rowan")
    agent.locator(f'.queue section[data-status="waiting"] li.mine[data-id="{queued}"]').wait_for(
        timeout=30000
    )

    # A visitor who only got the greeting is no work for an agent...
    visitor = chromium.new_context().new_page()
    visitor.goto(f"{base}/support/chat/")
    visiting = visitor.get_by_test_id("support-widget")
    visiting.locator("li.ts-bot").first.wait_for(timeout=30000)
    idle = _conversation_id(running, visitor)
    agent.wait_for_timeout(1000)
    assert agent.locator(f'.queue li[data-id="{idle}"]').count() == 0
    # ...until they write: then the console shows them at once, without a reload.
    box = visiting.locator("textarea")
    box.fill("Where is my card, tapir?")
    box.press("Enter")
    agent.locator(f'.queue li[data-id="{idle}"]').wait_for(timeout=30000)
    # An agent is online now, so this customer is not told that nobody is.
    visiting.locator("li.ts-bot:not(.ts-streaming)").nth(1).wait_for(timeout=60000)
    assert visiting.locator("li.ts-system", has_text="No agent is online").count() == 0
    for page in (customer, agent, visitor):
        page.close()


def test_talk_to_a_human_says_when_the_customer_is_queued_or_with_a_person(support_tidy, chromium):
    running = support_tidy
    page, widget, token = chat_asked(running, chromium)
    human = widget.locator("button.ts-human")

    # Queued the first time, then told plainly that they are in the queue...
    human.click()
    widget.locator("li.ts-bot", has_text="fetching a colleague").wait_for(timeout=30000)
    # The queue's own status frame can arrive after the bot's message (it did on a loaded CI
    # machine) and would then replace the answer to the second click: let it land first.
    widget.locator(".ts-status", has_text="Waiting for an agent").wait_for(timeout=30000)
    human.click()
    widget.locator(".ts-status", has_text="already in the queue for a person").wait_for(
        timeout=30000
    )
    # ...then that a person is already with them.
    shell(running, ACT.format(token=token, what="take"), "done")
    widget.locator("li.ts-system", has_text="joined the conversation").wait_for(timeout=30000)
    human.click()
    widget.locator(".ts-status", has_text="A person is already with you").wait_for(timeout=30000)
    page.close()
