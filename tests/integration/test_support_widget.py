"""Real browser, real ASGI server: the chat widget keeps the customer's transcript and messages
across a page reload and an agent closing the conversation (a message typed after the close
starts a new conversation and shows under its greeting), a message typed while the chat starts
joins that one conversation, typing indicators go away, and a message the chat refuses is
marked as not sent in the widget, with the reason, and its text comes back to the box instead
of vanishing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.support import AGENTS_SETUP, console_notice, console_sign_in, shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.support import services
services.knowledge_base_ensure(name="Help centre")
print("ready")
"""

CLOSE = """
from apps.support import services
from apps.support.models import Conversation
conversation = Conversation.objects.get(messages__text="Where is my parcel, zebra?")
services.conversation_close(conversation_id=conversation.pk)
print("closed", conversation.pk)
"""

WHERE = """
from apps.support.models import Message
m = Message.objects.get(text="And my second question, giraffe?")
print("where", m.conversation_id, m.conversation.status)
"""


def _customer_asks(page: Any, text: str, marker: str) -> Any:
    """Type `text` in the chat widget and wait until it is stored and the bot's turn is over;
    returns the widget."""
    widget = page.get_by_test_id("support-widget")
    box = widget.locator("textarea")
    box.fill(text)
    box.press("Enter")
    widget.locator("li.ts-customer:not(.ts-pending)", has_text=marker).wait_for(timeout=30000)
    widget.locator("li.ts-bot:not(.ts-streaming)").nth(1).wait_for(timeout=60000)
    return widget


def test_widget_keeps_the_transcript_on_reload_and_moves_on_after_a_close(support_tidy, chromium):
    running = support_tidy
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "ready" in setup.stdout, setup.stdout + setup.stderr
    base = running.start_web()
    page = chromium.new_page()
    page.goto(f"{base}/support/chat/")
    widget = _customer_asks(page, "Where is my parcel, zebra?", "zebra")
    box = widget.locator("textarea")

    # A reload (or the next page of the shop) shows the conversation so far, not an empty box.
    page.reload()
    widget.locator("li.ts-customer", has_text="zebra").wait_for(timeout=30000)

    closed = running.manage("shell", "-c", CLOSE, timeout=300)
    assert "closed" in closed.stdout, closed.stdout + closed.stderr
    old_id = int(closed.stdout.split("closed")[-1].strip())
    widget.locator(".ts-status", has_text="closed").wait_for(timeout=30000)

    # The customer writes again: the message is not lost, it starts a new conversation.
    box.fill("And my second question, giraffe?")
    box.press("Enter")
    widget.locator("li.ts-customer:not(.ts-pending)", has_text="giraffe").wait_for(timeout=30000)
    where = running.manage("shell", "-c", WHERE, timeout=300)
    assert "where" in where.stdout, where.stdout + where.stderr
    new_id, status = where.stdout.split("where")[-1].split()
    assert int(new_id) != old_id
    assert status != "closed"
    assert widget.locator("li.ts-customer", has_text="giraffe").count() == 1
    # The new conversation's greeting comes before the message that started it, not under it.
    page.wait_for_function(GREETINGS_TWO, timeout=30000)
    assert page.evaluate(GREETING_BEFORE_MESSAGE) is True
    page.close()


# The widget's messages as text, the first one being the first conversation's greeting.
GREETINGS_TWO = """
() => {
  const items = [...document.querySelectorAll('[data-testid=support-widget] .ts-messages > li')];
  const greeting = items[0].textContent;
  return items.filter((li) => li.textContent === greeting).length === 2;
}
"""
GREETING_BEFORE_MESSAGE = """
() => {
  const items = [...document.querySelectorAll('[data-testid=support-widget] .ts-messages > li')];
  const texts = items.map((li) => li.textContent);
  return texts.lastIndexOf(texts[0]) < texts.findIndex((t) => t.includes('giraffe'));
}
"""


AGENT = """
from apps.accounts.services import user_create
user_create(username="typist", password="typist-pass-123", roles=["support_agent"])
print("agent")
"""

TYPES = """
from apps.support import realtime
from apps.support.models import Message
m = Message.objects.get(text="Is anyone there, okapi?")
who = "{who}"
realtime.typing_broadcast(
    conversation_id=m.conversation_id, who=who, on=True, to_customer=who == "agent"
)
print("typed", m.conversation_id)
"""


def test_typing_indicators_go_away_when_people_stop_typing(support_tidy, chromium):
    running = support_tidy
    setup = running.manage("shell", "-c", SETUP + AGENT, timeout=300)
    assert "agent" in setup.stdout, setup.stdout + setup.stderr
    base = running.start_web()
    customer = chromium.new_page()
    customer.goto(f"{base}/support/chat/")
    widget = _customer_asks(customer, "Is anyone there, okapi?", "okapi")

    # An agent starts typing, then stops: the customer is not told "typing" for ever.
    typed = running.manage("shell", "-c", TYPES.format(who="agent"), timeout=300)
    assert "typed" in typed.stdout, typed.stdout + typed.stderr
    conversation_id = typed.stdout.split("typed")[-1].strip()
    indicator = widget.locator(".ts-typing")
    indicator.filter(has_text="agent is typing").wait_for(timeout=30000)
    indicator.filter(has_text="agent is typing").wait_for(state="detached", timeout=15000)

    # Same for the agent watching the customer type.
    agent = chromium.new_context().new_page()
    agent.goto(f"{base}/accounts/login/?next=/support/console/")
    agent.fill("input[name=username]", "typist")
    agent.fill("input[name=password]", "typist-pass-123")
    agent.click("button[type=submit]")
    agent.locator(f'.queue li[data-id="{conversation_id}"]').click(timeout=30000)
    agent.locator("#messages li", has_text="okapi").wait_for(timeout=30000)
    typed = running.manage("shell", "-c", TYPES.format(who="customer"), timeout=300)
    assert "typed" in typed.stdout, typed.stdout + typed.stderr
    console_typing = agent.locator("#typing", has_text="customer is typing")
    console_typing.wait_for(timeout=30000)
    console_typing.wait_for(state="detached", timeout=15000)
    customer.close()
    agent.close()


LEMUR = """
from apps.support.models import Conversation, Message
m = Message.objects.get(text="Quick question, lemur?")
n = Conversation.objects.filter(messages__text="Quick question, lemur?").count()
print("lemur", m.conversation.token, n)
"""


def test_a_message_typed_while_the_chat_starts_joins_that_one_conversation(support_tidy, chromium):
    running = support_tidy
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "ready" in setup.stdout, setup.stdout + setup.stderr
    base = running.start_web()
    page = chromium.new_page()
    held = []  # the request that creates the conversation, held until the customer has typed
    page.route("**/api/support/chat/", lambda route: held.append(route))
    page.goto(f"{base}/support/chat/")
    widget = page.get_by_test_id("support-widget")
    box = widget.locator("textarea")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)

    box.fill("Quick question, lemur?")
    box.press("Enter")
    page.wait_for_timeout(1000)  # time for a second start, if the widget made one
    starts = len(held)
    for route in held:
        route.continue_()
    widget.locator("li.ts-customer:not(.ts-pending)", has_text="lemur").wait_for(timeout=30000)
    token = page.evaluate("JSON.parse(localStorage.getItem('textsuite-support')).token")
    found = running.manage("shell", "-c", LEMUR, timeout=300)

    assert starts == 1
    assert "lemur" in found.stdout, found.stdout + found.stderr
    lemur_token, copies = found.stdout.split("lemur")[-1].split()
    assert lemur_token == token and copies == "1"  # the conversation the widget goes on with
    page.close()


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


def test_a_refused_message_is_marked_not_sent_and_its_text_comes_back(support_tidy, chromium):
    running = support_tidy
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


SHOP_SETUP = """
from apps.support import demo, services
services.knowledge_base_ensure(name="Help centre")
shop = demo.demo_knowledge_shop_load(log=lambda _m: None)
print("shop", shop.greeting)
"""


def test_the_storefront_chat_greets_and_answers_as_the_shop(support_tidy, chromium):
    running = support_tidy
    setup = running.manage("shell", "-c", SHOP_SETUP, timeout=600)
    assert "shop" in setup.stdout, setup.stdout + setup.stderr
    greeting = setup.stdout.split("shop", 1)[-1].strip()
    base = running.start_web()
    page = chromium.new_page()
    page.goto(f"{base}/shop/")

    page.locator(".ts-launcher").click()
    widget = page.get_by_test_id("support-widget")
    first = widget.locator("li.ts-bot").first
    first.wait_for(timeout=30000)
    box = widget.locator("textarea")
    box.fill("When will I get my refund?")
    box.press("Enter")
    answer = widget.locator("li.ts-bot:not(.ts-streaming)").nth(1)
    answer.wait_for(timeout=60000)

    assert first.inner_text().strip() == greeting
    assert "account, cards or payments" not in first.inner_text()
    assert "Returns" in answer.inner_text()  # the cited shop article
    page.close()


SHOP_CLOSED = """
from datetime import timedelta
from zoneinfo import ZoneInfo
from django.utils import timezone
from apps.support import demo, services
services.knowledge_base_ensure(name="Help centre")
shop = demo.demo_knowledge_shop_load(log=lambda _m: None)
today = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()
services.knowledge_base_hours_update(
    kb_id=shop.pk,
    time_zone="Europe/Paris",
    opening_hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    holidays=[today.isoformat(), (today + timedelta(days=1)).isoformat()],
)
print("closed")
"""

SHOP_OPEN = """
from apps.support import services
from apps.support.models import KnowledgeBase
shop = KnowledgeBase.objects.get(slug="shop")
services.knowledge_base_hours_update(kb_id=shop.pk, time_zone="UTC", opening_hours={}, holidays=[])
print("open")
"""


EMAILED = """
from apps.support.models import Conversation
c = Conversation.objects.get(customer_email="jo@example.com", messages__text="Boots fit fine")
print("emailed", c.status, c.messages.filter(text__contains="answered by email to").count())
"""


def test_out_of_hours_the_widget_says_when_and_takes_an_email(support_tidy, chromium):
    running = support_tidy
    setup = running.manage("shell", "-c", SHOP_CLOSED, timeout=600)
    assert "closed" in setup.stdout, setup.stdout + setup.stderr
    shell(running, AGENTS_SETUP, "ready")
    try:
        base = running.start_web()
        page = chromium.new_page()
        page.goto(f"{base}/shop/")
        page.locator(".ts-launcher").click()
        widget = page.get_by_test_id("support-widget")
        widget.locator("li.ts-bot").first.wait_for(timeout=30000)

        widget.locator(".ts-human").click()
        away = widget.locator("li.ts-bot", has_text="Our team is away")
        away.wait_for(timeout=30000)
        widget.locator(".ts-status", has_text="answer you by email").wait_for(timeout=30000)
        box = widget.locator("textarea")
        placeholder = box.get_attribute("placeholder")
        box.fill("jo@example.com")
        box.press("Enter")
        taken = widget.locator("li.ts-bot", has_text="answer by email to jo@example.com")
        taken.wait_for(timeout=30000)

        # An agent answers it by email from the console's "Answer by email" column.
        agent = chromium.new_page()
        console_sign_in(agent, base, "ayla")
        agent.locator('.queue section[data-status="email"] li', has_text="jo@example.com").click()
        # The form of this conversation, not of another one the queue showed at that spot.
        agent.locator("#email-label", has_text="jo@example.com").wait_for(timeout=30000)
        agent.get_by_test_id("email-form").wait_for(timeout=30000)
        agent.locator("#email-text").fill("Boots fit fine")
        agent.get_by_test_id("email-send").click()
        console_notice(agent, running, "Answer sent by email.", timeout_ms=60000)
        widget.locator("li.ts-agent", has_text="Boots fit fine").wait_for(timeout=30000)
        emailed = shell(running, EMAILED, "emailed").split()

        assert "Europe/Paris time" in away.inner_text()
        assert "email address" in away.inner_text()
        assert placeholder is not None and "email address" in placeholder
        assert emailed == ["closed", "1"]
        agent.close()
        page.close()
    finally:
        reopened = running.manage("shell", "-c", SHOP_OPEN, timeout=300)
        assert "open" in reopened.stdout, reopened.stdout + reopened.stderr
