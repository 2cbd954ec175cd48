"""Real browser, real ASGI server: a customer queued with no agent online is told so and the
next agent online gets them; a visit where the customer never wrote stays out of the console
until they do; an agent cannot close a colleague's conversation from the console."""

from __future__ import annotations

import pytest

from tests.integration.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.accounts.services import user_create
from apps.support import services
services.knowledge_base_ensure(name="Help centre")
user_create(username="rowan", password="rowan-pass-123", roles=["support_agent"])
print("ready")
"""

TIDY = """
from apps.support import services
from apps.support.models import Conversation
for pk in Conversation.objects.exclude(status="closed").values_list("pk", flat=True):
    services.conversation_close(conversation_id=pk)
print("tidy")
"""

CONVERSATION_OF = """
from apps.support.models import Conversation
print("id", Conversation.objects.get(token="{token}").pk)
"""


@pytest.fixture
def tidy(running):
    """The database is shared by the session: later tests must not find our chats open."""
    yield running
    done = running.manage("shell", "-c", TIDY, timeout=300)
    assert "tidy" in done.stdout, done.stdout + done.stderr


def _sign_in(page, base: str, username: str) -> None:
    sign_in(page, base, username, f"{username}-pass-123", "/support/console/")
    page.get_by_test_id("presence").filter(has_text="online").wait_for(timeout=30000)


def _conversation_id(running, page) -> str:
    token = page.evaluate("JSON.parse(localStorage.getItem('textsuite-support')).token")
    found = running.manage("shell", "-c", CONVERSATION_OF.format(token=token), timeout=300)
    assert "id" in found.stdout, found.stdout + found.stderr
    return found.stdout.split("id")[-1].strip()


def test_queued_customer_is_told_no_agent_is_online_and_idle_visits_wait_for_a_message(
    tidy, chromium
):
    running = tidy
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
    _sign_in(agent, base, "rowan")
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


TAKEN = """
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
owner = user_create(username="alder", password="alder-pass-123", roles=["support_agent"])
user_create(username="birch", password="birch-pass-123", roles=["support_agent"])
conversation = services.conversation_start(kb_id=kb.pk, customer_name="Quinn")
services.customer_message_post(conversation_id=conversation.pk, text="My card is stuck, ibis")
services.conversation_take_over(conversation_id=conversation.pk, agent=owner)
print("conversation", conversation.pk)
"""

STATUS = """
from apps.support.models import Conversation
print("status", Conversation.objects.get(pk={pk}).status)
"""


def test_an_agent_cannot_close_a_colleagues_conversation_from_the_console(tidy, chromium):
    running = tidy
    setup = running.manage("shell", "-c", TAKEN, timeout=300)
    assert "conversation" in setup.stdout, setup.stdout + setup.stderr
    conversation_id = setup.stdout.split("conversation")[-1].strip()
    base = running.start_web()
    page = chromium.new_page()
    _sign_in(page, base, "birch")

    page.locator(f'.queue section[data-status="agent"] li[data-id="{conversation_id}"]').click(
        timeout=30000
    )
    page.locator("#messages li", has_text="ibis").wait_for(timeout=30000)
    page.locator("#close").click()

    page.locator("#error", has_text="only they or a supervisor can close it").wait_for(
        timeout=30000
    )
    assert page.get_by_test_id("conv-status").inner_text() == "agent"
    status = running.manage("shell", "-c", STATUS.format(pk=conversation_id), timeout=300)
    assert "status agent" in status.stdout, status.stdout + status.stderr
    page.close()
